import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Created } from '../src/client.js';
import { testClient, type TestClient } from './support/center.js';
import { ProcessGroup, waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Operations on a sharded queue, named by its logical name as users name it (`batch`): each must
 * reach the shard that holds the job, and a queue operation every shard. (They read shard 0 only,
 * so a job on shard 2 "did not exist", a pause left shards 1-2 running and a summary counted a third.)
 */

let redis: TestRedis;
let client: TestClient;
let env: Record<string, string>;
const group = new ProcessGroup({});

before(async () => {
  redis = await startTestRedis({ appendonly: false });
  env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), QUEUE_SHARDS: 'default:3,batch:3' };
  const worker = group.start('worker', { ...env, WORKER_CONCURRENCY: '2' });
  [client] = await Promise.all([testClient(env), worker.waitForMessage('Worker started', 30_000)]);
});
after(async () => {
  await group.stopAll();
  await client?.close();
  await redis?.stop();
});

/** A shardKey per shard (0..2) of `queue`, found by routing. */
function keysByShard(queue: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.filter(Boolean).length < 3; i++) {
    const key = `k${i}`;
    const shard = client.queues.shardFor(queue, key);
    out[shard] ??= key;
  }
  return out;
}

const stateOf = async (job: Created) => (await client.getJob(job))?.state;

describe('operations on a sharded queue', () => {
  it('find, promote, cancel and read the logs of jobs on any shard; pause, resume, clean and summarize every shard', async () => {
    const keys = keysByShard('batch');
    const later = (shard: number) => client.schedule('sleep', { ms: 0 }, { delay: 3_600_000 }, { shardKey: keys[shard]! });
    const delayed = await Promise.all([0, 1, 2, 0, 1, 2].map(later));
    assert.deepEqual(delayed.map((d) => d.shard), [0, 1, 2, 0, 1, 2]);

    const summary = await client.queueSummary('batch');
    assert.equal(summary.counts.delayed, 6, JSON.stringify(summary));
    assert.equal(summary.shards, 3);
    assert.ok(summary.workers >= 3, `a worker per shard: ${JSON.stringify(summary)}`);
    const names = (await client.queueSummaries()).map((s) => s.name).sort();
    assert.deepEqual(names, ['batch', 'default'], 'one summary per queue users name, not one per shard');

    const promoted = await client.promoteJob(delayed[2]!);
    assert.notEqual(promoted.state, 'delayed');
    await waitFor(async () => (await stateOf(delayed[2]!)) === 'completed', 'the promoted job on shard 2 to run');

    assert.equal((await client.cancelJob(delayed[1]!)).outcome, 'removed');
    assert.equal(await client.getJob(delayed[1]!), undefined);
    assert.equal((await client.jobLogs(delayed[5]!)).total, 0, 'the logs of a job on shard 2 are found (none yet)');

    assert.deepEqual(await client.pauseQueue('batch'), { name: 'batch', paused: true });
    for (const shard of client.queues.shardsOf('batch')) assert.equal(await shard.isPaused(), true, shard.name);
    assert.equal((await client.queueSummary('batch')).paused, true);
    assert.deepEqual(await client.resumeQueue('batch'), { name: 'batch', paused: false });
    for (const shard of client.queues.shardsOf('batch')) assert.equal(await shard.isPaused(), false, shard.name);

    const cleaned = await client.cleanQueue('batch', { state: 'delayed', olderThanMs: 0 });
    assert.equal(cleaned.removed, 4, 'the delayed jobs of every shard');
    assert.equal((await client.queueSummary('batch')).counts.delayed, 0);
  });

  it('cancels an active job and an awaiting continuation on a shard other than 0', async () => {
    const keys = keysByShard('batch');
    const running = await client.enqueue('sleep', { ms: 60_000 }, { shardKey: keys[2]! });
    await waitFor(async () => (await stateOf(running)) === 'active', 'the job on shard 2 to start');
    const cancelled = await client.cancelJob(running, 'test');
    // `cancelling`: the worker had not failed it within the cancel's 5 s wait (a loaded CI machine);
    // it must still end failed, long before its 60 s sleep would.
    assert.ok(['cancelled', 'cancelling'].includes(cancelled.outcome), JSON.stringify(cancelled));
    await waitFor(async () => (await stateOf(running)) === 'failed', 'the cancelled job to fail', 20_000);

    const parent = await client.schedule('sleep', { ms: 0 }, { delay: 3_600_000 });
    let key = '';
    for (let i = 0; !key; i++) if (client.queues.forJob('default', `cont-c${i}`).name === 'default.2') key = `c${i}`;
    const continuation = await client.continueWith(parent, 'hello-world', {}, { jobId: key });
    assert.equal(continuation.state, 'awaiting');
    assert.equal((await client.cancelJob(continuation)).outcome, 'cancelled', 'withdrawn: it will never run');
    await client.promoteJob(parent);
    await waitFor(async () => (await stateOf(parent)) === 'completed', 'the parent to complete');
    // The release that followed skipped the withdrawn continuation (the sweep would too).
    await client.continuations.resolve(parent);
    assert.equal((await client.getJob(continuation))?.state ?? 'none', 'none');
  });

  it('after K changes, awaiting continuations are still found, cancelled and deduplicated by their key', async () => {
    // A client of another K (a deploy in progress): batch has 5 shards there.
    const wider = await testClient({ ...env, QUEUE_SHARDS: 'default:3,batch:5' });
    try {
      const parent = await client.schedule('hello-world', {}, { delay: 3_600_000 });
      const keys = Array.from({ length: 12 }, (_, i) => `kc${i}`);
      const first = await Promise.all(keys.map((k) => client.continueWith(parent, 'sleep', { ms: 1 }, { jobId: k })));
      // Some of these ids hash to another shard under K = 5: they were not found, not cancellable,
      // and a second registration with the same key made a second continuation (both ran).
      assert.ok(first.some((c) => wider.queues.forJob('batch', c.id).name !== client.queues.forJob('batch', c.id).name), 'some ids move');
      for (const c of first) {
        assert.equal((await wider.getJob(c))?.state, 'awaiting', c.id);
        const again = await wider.continueWith(parent, 'sleep', { ms: 1 }, { jobId: c.id.slice('cont-'.length) });
        assert.equal(again.duplicate, true, c.id);
        assert.equal(again.shard, c.shard, `${c.id} stays on its shard`);
      }
      const moved = first.find((c) => wider.queues.forJob('batch', c.id).name !== client.queues.forJob('batch', c.id).name)!;
      assert.equal((await wider.cancelJob(moved)).outcome, 'cancelled');
      assert.equal((await client.getJob(moved))?.state ?? 'none', 'none', 'withdrawn');
      await client.cancelJob(parent);
    } finally {
      await wider.close();
    }
  });

  it("a join's then job can be cancelled while it awaits, and a batch's jobs take no shardKey", async () => {
    const parents = await Promise.all([client.schedule('hello-world', {}, { delay: 3_600_000 }), client.schedule('sleep', { ms: 1 }, { delay: 3_600_000 })]);
    const then = await client.continueWith(parents, 'scheduler-test', {}, { jobId: 'join-cancel' });
    assert.equal((await client.getJob(then))?.state, 'awaiting');
    // GET said awaiting, DELETE said "no job".
    assert.equal((await client.cancelJob(then)).outcome, 'cancelled');
    assert.equal((await client.getJob(then))?.state, 'cancelled');
    for (const p of parents) await client.cancelJob(p);
    await assert.rejects(
      () => client.batch([{ name: 'sleep', data: { ms: 1 }, opts: { shardKey: 'x' } }]),
      (e: Error & { details?: { field: string }[] }) => e.details?.some((d) => d.field === 'jobs.0.shardKey') ?? false,
    );
  });

  it('retries the failed jobs of every shard', async () => {
    const keys = keysByShard('default');
    const failing = await Promise.all(
      [1, 2].map((shard) => client.enqueue('fail', { message: 'once', times: 1 }, { attempts: 1, shardKey: keys[shard]! })),
    );
    for (const job of failing) await waitFor(async () => (await stateOf(job)) === 'failed', `${job.id} to fail`);
    assert.deepEqual(await client.retryFailed('default', { name: 'fail' }), { queue: 'default', retried: 2 });
    for (const job of failing) await waitFor(async () => (await stateOf(job)) === 'completed', `${job.id} to run again`);
  });
});
