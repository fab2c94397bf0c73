import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobCenterClient, JobInfo, JobRef } from '../src/client.js';
import type { CrashPoint } from '../src/config.js';
import { jobSettled, useTestCenter } from './support/center.js';
import { waitFor, type CenterProcess, type ProcessGroup } from './support/processes.js';

/*
 * Continuations under SIGKILL at every step (`TEST_CRASH_AT`, see src/continuations/crash-points.ts):
 * - registration: a CLI `continue` killed after the pointer (a continuation on another queue than
 *   its parent) leaves nothing visible, and a retry with the same key registers it; killed after the
 *   script, it leaves a complete registration that runs once, and a retry reports the duplicate;
 * - release: a worker killed after the parent completed, after marking, after adding: another
 *   worker finishes the release, and the continuation runs exactly once.
 */

const center = useTestCenter();

const settled = (client: JobCenterClient, ref: JobRef): Promise<JobInfo> => jobSettled(client, ref, 30_000);

function runsOf(worker: CenterProcess, id: string): number {
  return worker.lines.filter((l) => l.msg === 'Scheduled job test ran' && l.job === id).length;
}

/** The CLI, run to its end (or its SIGKILL). */
async function cli(group: ProcessGroup, args: string[], env: Record<string, string> = {}) {
  const p = group.start('cli', env, args);
  const exit = await p.exited;
  return { exit, output: p.raw.join('\n') };
}

async function startWorker(group: ProcessGroup, env: Record<string, string>): Promise<CenterProcess> {
  const w = group.start('worker', env);
  await w.waitForMessage('Worker started', 30_000);
  return w;
}

describe('continuation registration survives a SIGKILL at every step', { concurrency: true }, () => {
  it('killed after the pointer: nothing visible; a retry with the same key registers it, and it runs once', { timeout: 120_000 }, async () => {
    const { group, client } = await center.setup({ CONTINUATION_SWEEP_MS: '200' });
    const parent = await client.enqueue('sleep', { ms: 0 });
    const args = ['continue', 'scheduler-test', '--after', `batch/${parent.id}`, '--job-id', 'k1', '--data', '{"note":"x"}'];
    const crashed = await cli(group, args, { TEST_CRASH_AT: 'register:after-pointer' satisfies CrashPoint });
    assert.equal(crashed.exit.signal, 'SIGKILL', crashed.output);
    const ref = { queue: 'default', id: 'cont-k1' };
    assert.equal(await client.getJob(ref), undefined, 'a pointer alone is no registration');

    const worker = await startWorker(group, { CONTINUATION_SWEEP_MS: '200' });
    await settled(client, parent);
    const retried = await cli(group, args);
    assert.equal(retried.exit.code, 0, retried.output);
    assert.doesNotMatch(retried.output, /"duplicate":\s*true/, 'the retry registered it (not a duplicate of nothing)');
    assert.equal((await settled(client, ref)).state, 'completed');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(runsOf(worker, ref.id), 1, worker.output());
  });

  it('killed after the script: a complete registration that runs once; a retry reports the duplicate', { timeout: 120_000 }, async () => {
    const { group, client } = await center.setup({ CONTINUATION_SWEEP_MS: '200' });
    // Parent and continuation on one queue: the whole registration is the one script.
    const parent = await client.enqueue('hello-world', {});
    const worker = await startWorker(group, { CONTINUATION_SWEEP_MS: '200' });
    await settled(client, parent);
    const args = ['continue', 'scheduler-test', '--after', `default/${parent.id}`, '--job-id', 'k2'];
    const crashed = await cli(group, args, { TEST_CRASH_AT: 'register:after-script' satisfies CrashPoint });
    assert.equal(crashed.exit.signal, 'SIGKILL', crashed.output);
    // The parent had finished, and the killed registration never released it: the sweep does.
    const ref = { queue: 'default', id: 'cont-k2' };
    assert.equal((await settled(client, ref)).state, 'completed');
    const retried = await cli(group, args);
    assert.equal(retried.exit.code, 0, retried.output);
    assert.match(retried.output, /"duplicate":\s*true/);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(runsOf(worker, ref.id), 1, worker.output());
  });
});

describe('continuation release survives a SIGKILL at every step', { concurrency: true }, () => {
  for (const step of ['release:after-complete', 'release:after-mark', 'release:after-add'] satisfies CrashPoint[]) {
    it(`killed at ${step}: another worker releases it, exactly once`, { timeout: 120_000 }, async () => {
      const { group, client } = await center.setup();
      // The doomed worker runs the parent's queue only: its death must hit the release, not the continuation.
      const doomed = await startWorker(group, { TEST_CRASH_AT: step, CONTINUATION_SWEEP_MS: '3600000', WORKER_QUEUES: 'batch' });
      const parent = await client.enqueue('sleep', { ms: 300, result: 'parent' });
      const cont = await client.continueWith(parent, 'scheduler-test', { note: step });
      assert.equal(cont.state, 'awaiting');
      const exit = await waitFor(async () => (doomed.running ? undefined : doomed.exited), 'the doomed worker to die', 30_000);
      assert.equal(exit?.signal, 'SIGKILL', doomed.output());
      assert.equal((await client.getJob(parent))?.state, 'completed');

      const rescuer = await startWorker(group, { CONTINUATION_SWEEP_MS: '200' });
      const done = await settled(client, cont);
      assert.equal(done.state, 'completed', JSON.stringify(done));
      await new Promise((r) => setTimeout(r, 1000)); // more sweeps: still one
      const jobs = (await client.queues.get('default').getJobs(['completed', 'failed', 'active', 'waiting', 'delayed'])).filter((j) => j?.name === 'scheduler-test');
      assert.equal(jobs.length, 1, `continuation jobs: ${jobs.map((j) => j?.id).join(', ')}`);
      assert.equal(runsOf(rescuer, cont.id), 1, rescuer.output());
    });
  }
});
