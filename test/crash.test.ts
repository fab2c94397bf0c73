import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobSettled, useTestCenter } from './support/center.js';
import { waitFor } from './support/processes.js';

const center = useTestCenter();

// Short locks so a dead worker's job is noticed within about a second.
const FAST_STALLS = { WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500' };
const setup = (extra: Record<string, string>) => center.setup({ ...FAST_STALLS, ...extra });

describe('worker crashes', () => {
  it('a job whose worker is SIGKILLed mid-run is picked up by another worker and completes', async () => {
    const { group, client } = await setup({ WORKER_MAX_STALLED_COUNT: '1' });
    const first = group.start('worker');
    await first.waitForMessage('Worker started');
    const ref = await client.enqueue('sleep', { ms: 1500, result: 'survived' });
    await waitFor(async () => (await client.getJob(ref))?.state === 'active', 'job active');
    first.kill('SIGKILL');
    await first.exited;
    const second = group.start('worker');
    await second.waitForMessage('Worker started');
    const done = await waitFor(async () => {
      const j = await client.getJob(ref);
      return j?.state === 'completed' ? j : undefined;
    }, 'completed by the second worker', 20_000);
    assert.equal((done.returnValue as { result: unknown }).result, 'survived');
    await second.waitForMessage('Job stalled');
  });

  it('a cancel of a job whose worker was SIGKILLed is applied when another worker runs it again (the API answered cancelling)', async () => {
    const { group, client } = await setup({ WORKER_MAX_STALLED_COUNT: '1' });
    const first = group.start('worker');
    await first.waitForMessage('Worker started');
    const ref = await client.enqueue('sleep', { ms: 15_000, result: 'ran anyway' }, { jobId: 'cancel-orphan' });
    await waitFor(async () => (await client.getJob(ref))?.state === 'active', 'job active');
    first.kill('SIGKILL');
    await first.exited;
    // Nobody hears the cancel: the job stays "active" until its lock expires.
    const cancelled = await client.cancelJob(ref);
    assert.equal(cancelled.outcome, 'cancelling');
    const second = group.start('worker');
    // Run again after the stall, it ran its 15 s to the end and completed.
    const ended = await jobSettled(client, ref, 30_000);
    assert.equal(ended.state, 'failed', JSON.stringify(ended));
    assert.match(ended.failedReason ?? '', /^Cancelled by /);
    await second.waitForMessage('Job stalled');
    // The mark is spent: a retry asked for now runs.
    await client.retry(ref);
    await waitFor(async () => (await client.getJob(ref))?.state === 'active', 'the retried job runs', 20_000);
  });

  it('a job that keeps killing its workers ends failed after WORKER_MAX_STALLED_COUNT, not in a loop', async () => {
    const { group, client } = await setup({ WORKER_MAX_STALLED_COUNT: '1' });
    const ref = await client.enqueue('sleep', { ms: 60_000 });
    let kills = 0;
    let starts = 0;
    for (;;) {
      const worker = group.start('worker');
      await worker.waitForMessage('Worker started');
      // Wait until this worker has started the job (a new start), or the job has failed. BullMQ 6
      // fails a job stalled too often when a worker next takes it (the stalled check only marks
      // it, `deferredFailure`), so that start is the failure under way, not a run to kill.
      const job = await waitFor(async () => {
        const j = await client.queues.get(ref.queue).getJob(ref.id);
        const state = await j?.getState();
        const started = state === 'active' && (j?.attemptsStarted ?? 0) > starts && !j?.deferredFailure;
        return state === 'failed' || started ? j : undefined;
      }, 'job started again or failed', 20_000);
      if ((await job.getState()) === 'failed') {
        await worker.stop();
        break;
      }
      starts = job.attemptsStarted;
      worker.kill('SIGKILL');
      await worker.exited;
      kills++;
      assert.ok(kills <= 3, 'the job should have been failed by now');
    }
    const failed = await client.getJob(ref);
    assert.equal(kills, 2, 'one stall is forgiven (maxStalledCount 1), the second fails the job');
    assert.match(failed?.failedReason ?? '', /stalled more than allowable limit/);
  });
});
