import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker, type Job } from 'bullmq';
import { cancelMarkKey } from '../src/operations/cancel-signal.js';
import { testClient, type TestClient } from './support/center.js';
import { waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * What a cancel of an active job answers when the job's run ends on its own while the abort is on
 * its way. The job runs in a bare BullMQ Worker, which never hears the abort: the test decides
 * when and how the run ends, after the cancel was sent (its mark is in Redis).
 */

let redis: TestRedis;
let client: TestClient;
let worker: Worker | undefined;

before(async () => {
  redis = await startTestRedis();
  client = await testClient({ REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() });
});
after(async () => {
  await worker?.close();
  await client?.close();
  await redis?.stop();
});

/** Runs the `default` queue's jobs in a bare Worker; each run ends as `end` says, once the cancel was sent. */
function bareWorker(end: (job: Job) => unknown): void {
  const queue = client.queues.get('default');
  worker = new Worker(
    queue.name,
    async (job) => {
      const mark = cancelMarkKey(client.queues.config, queue.name, String(job.id));
      await waitFor(async () => (await client.queues.redis.exists(mark)) === 1, 'the cancel was sent', 10_000);
      return end(job);
    },
    { connection: { url: redis.url }, prefix: queue.opts.prefix },
  );
}

async function markOf(id: string): Promise<number> {
  return client.queues.redis.exists(cancelMarkKey(client.queues.config, client.queues.get('default').name, id));
}

describe('cancelling an active job that ends on its own meanwhile', () => {
  it('a run that completes before the abort reaches it answers finished, with state completed', async () => {
    bareWorker(() => 'done anyway');
    const ref = await client.enqueue('hello-world', {});
    await waitFor(async () => (await client.getJob(ref))?.state === 'active', 'job active', 10_000);
    const result = await client.cancelJob(ref, 'ops');
    assert.deepEqual({ outcome: result.outcome, state: result.state }, { outcome: 'finished', state: 'completed' });
    assert.equal((await client.getJob(ref))?.state, 'completed');
    assert.equal(await markOf(ref.id), 0, 'no cancel mark is left behind');
    await worker?.close();
    worker = undefined;
  });

  it('a run that failed on its own and waits for its next attempt is removed: it never runs again', async () => {
    bareWorker(() => {
      throw new Error('flaky downstream');
    });
    const queue = client.queues.get('default');
    const job = await queue.add('hello-world', {}, { attempts: 3, backoff: { type: 'fixed', delay: 60_000 } });
    const ref = { queue: 'default', id: String(job.id) };
    await waitFor(async () => (await client.getJob(ref))?.state === 'active', 'job active', 10_000);
    const result = await client.cancelJob(ref, 'ops');
    assert.deepEqual({ outcome: result.outcome, state: result.state }, { outcome: 'removed', state: 'removed' });
    assert.equal(await client.getJob(ref), undefined, 'the job is gone, not delayed for its next attempt');
    assert.equal(await markOf(ref.id), 0, 'no cancel mark is left behind');
    await worker?.close();
    worker = undefined;
  });
});
