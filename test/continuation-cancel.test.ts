import assert from 'node:assert/strict';
import { before, after, describe, it } from 'node:test';
import type { JobInfo, JobRef } from '../src/client.js';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import failHandler from '../workers/handlers/fail.js';
import schedulerTestHandler from '../workers/handlers/scheduler-test.js';
import sleepHandler from '../workers/handlers/sleep.js';
import { jobSettled, silentLogger, testConfig, useTestCenter, type TestClient } from './support/center.js';

/*
 * Cancelling around continuations, with the sweep off (CONTINUATION_SWEEP_MS of an hour): what is
 * settled must be settled by the cancel itself, not by a sweep minutes or an hour later. And an
 * idempotency key stays one continuation whichever parent a retry names.
 */

const center = useTestCenter();

const settled = (client: TestClient, ref: JobRef): Promise<JobInfo> => jobSettled(client, ref, 10_000);

describe('cancelling parents of continuations', () => {
  let client: TestClient;
  let lifecycle: Lifecycle;
  before(async () => {
    const s = await center.setup({ CONTINUATION_SWEEP_MS: '3600000' });
    client = s.client;
    lifecycle = new Lifecycle(silentLogger);
    await startWorkerRuntime({ config: testConfig(s.env), logger: silentLogger, lifecycle, handlers: [schedulerTestHandler, failHandler, sleepHandler] });
  });
  after(async () => {
    await lifecycle.shutdown();
  });

  it('a withdrawn continuation settles its own continuations: on finished runs, on success ends cancelled', async () => {
    // They awaited a job that never comes: its pointer named its parent forever, so every check
    // (the sweep's included) found it "unfinished".
    const parent = await client.enqueue('sleep', { ms: 300 });
    const middle = await client.continueWith(parent, 'scheduler-test', { note: 'withdrawn' });
    const onFinished = await client.continueWith(middle, 'scheduler-test', { note: 'runs' }, { on: 'finished' });
    const onSuccess = await client.continueWith(middle, 'scheduler-test', { note: 'cancelled' });
    assert.equal((await client.cancelJob(middle, 'ops')).outcome, 'cancelled');
    const ran = await settled(client, onFinished);
    assert.equal(ran.state, 'completed', JSON.stringify(ran));
    const cancelled = await settled(client, onSuccess);
    assert.equal(cancelled.state, 'failed');
    assert.match(cancelled.failedReason ?? '', /^Cancelled: parent job default\/cont-[0-9a-f-]+ failed \(Cancelled by ops\)/);
    assert.equal((await settled(client, parent)).state, 'completed');
    assert.equal(await client.getJob(middle), undefined, 'the withdrawn one never ran');
    await assert.rejects(client.continueWith(middle, 'scheduler-test', {}), { name: 'NotFoundError' }, 'nothing to continue any more');
  });

  it('removing a waiting parent settles its continuations at once (not at the sweep, up to an hour later)', async () => {
    const parent = await client.schedule('sleep', { ms: 1 }, { delay: 3_600_000 });
    const onFinished = await client.continueWith(parent, 'scheduler-test', { note: 'runs' }, { on: 'finished' });
    const onSuccess = await client.continueWith(parent, 'scheduler-test', { note: 'cancelled' });
    assert.equal((await client.cancelJob(parent, 'ops')).outcome, 'removed');
    assert.equal((await settled(client, onFinished)).state, 'completed');
    const cancelled = await settled(client, onSuccess);
    assert.equal(cancelled.state, 'failed');
    assert.match(cancelled.failedReason ?? '', /no longer exists/);
  });

  it("removing a batch's waiting job counts it failed at once: the batch's then runs (on finished)", async () => {
    const batch = await client.batch(
      [
        { name: 'sleep', data: { ms: 1 } },
        { name: 'sleep', data: { ms: 1 }, opts: { delay: 3_600_000 } },
      ],
      { then: { name: 'scheduler-test', data: { note: 'after the batch' } }, on: 'finished' },
    );
    await settled(client, batch.jobs[0]!);
    assert.equal((await client.cancelJob(batch.jobs[1]!, 'ops')).outcome, 'removed');
    assert.equal((await settled(client, batch.then!)).state, 'completed');
    const status = await client.getBatch(batch.id);
    assert.deepEqual([status?.completed, status?.failed, status?.pending], [1, 1, 0]);
  });
});

describe('continuation idempotency keys', () => {
  it('a key released after a parent of another queue is a duplicate on a parent of its own queue', async () => {
    const { env, client } = await center.setup({ CONTINUATION_SWEEP_MS: '3600000' });
    const lifecycle = new Lifecycle(silentLogger);
    await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [schedulerTestHandler, sleepHandler] });
    try {
      // The first parent is on `batch`, the continuation on `default`: its pointer reads `released`.
      const p1 = await client.enqueue('sleep', { ms: 1 });
      await settled(client, p1);
      const first = await client.continueWith(p1, 'scheduler-test', { note: 'first' }, { jobId: 'report-1' });
      assert.equal((await settled(client, first)).state, 'completed');
      const p2 = await client.enqueue('scheduler-test', { note: 'p2' });
      const again = await client.continueWith(p2, 'scheduler-test', { note: 'second' }, { jobId: 'report-1' });
      assert.equal(again.duplicate, true, JSON.stringify(again));
      assert.equal(again.id, first.id);
      assert.equal(again.state, 'completed');
    } finally {
      await lifecycle.shutdown();
    }
  });
});
