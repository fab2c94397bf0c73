import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Created, JobRef } from '../src/client.js';
import { queuePrefix } from '../src/redis/connection.js';
import { shardInId, shardOf, shardQueueName } from '../src/queues/shards.js';
import { useTestCluster } from './support/cluster.js';
import { testConfig } from './support/center.js';
import { waitFor, type CenterProcess } from './support/processes.js';
import { uniquePrefix } from './support/redis.js';
import { duplicateRuns, helloRuns, missingSeconds, ticksOf } from './support/scale.js';

/** Worker slots per shard in the cluster test. */
const CONCURRENCY = 3;

/*
 * Sharded queues on a real 3-master Redis Cluster: one logical queue spread over 6 BullMQ queues,
 * each in its own slot, consumed by real worker processes; K changed under load.
 */

const shared = useTestCluster();

/** Runs `fn` over `items`, `width` at a time, keeping the results in order. */
async function inParallel<T, R>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

function shardsOf(worker: CenterProcess): unknown {
  return worker.lines.find((l) => l.msg === 'Worker started')?.shards;
}

describe('Sharded queues on a 3-master Redis Cluster', () => {
  it('the 6 shards of each shipped queue hash to slots on all 3 masters', async (t) => {
    const config = testConfig({ REDIS_CLUSTER_NODES: shared.cluster.seeds, QUEUE_PREFIX: 'jc' });
    for (const queue of ['default', 'batch']) {
      const owners = new Set<number>();
      const slots: number[] = [];
      for (let i = 0; i < 6; i++) {
        const name = shardQueueName(queue, i);
        const slot = (await shared.cluster.client.cluster('KEYSLOT', `${queuePrefix(config, name)}:${name}:wait`)) as number;
        slots.push(slot);
        owners.add(await shared.cluster.portForSlot(slot));
      }
      t.diagnostic(`${queue}: shard slots ${slots.join(', ')} on ${owners.size} masters`);
      assert.equal(new Set(slots).size, 6, `${queue}: one slot per shard`);
      assert.equal(owners.size, 3, `${queue}: the 6 shards use all 3 masters`);
    }
  });

  it('3,000 jobs over 6 shards run once and are found by id; a worker SIGKILLed midway loses nothing', { timeout: 300_000 }, async (t) => {
    const env = {
      REDIS_CLUSTER_NODES: shared.cluster.seeds,
      QUEUE_PREFIX: uniquePrefix(),
      QUEUE_SHARDS: 'default:6',
      // Few slots (6 shards x 3 per worker): the drain takes seconds, so the SIGKILL below lands
      // while the killed worker holds jobs. At 10 per shard an idle machine drained all 3,000 before
      // the test saw the first 1,000, and the kill tested nothing (a CI failure).
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // Short enough that the killed worker's jobs come back within seconds, long enough that a
      // loaded machine renews live workers' locks in time (a missed renewal would run a job twice).
      WORKER_LOCK_DURATION_MS: '5000',
      WORKER_STALLED_INTERVAL_MS: '1000',
    };
    const t0 = Date.now();
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
    const group = shared.group(env);
    const c = await shared.client(env);

    // 3,000 jobs (the `fail` job with times: 0 succeeds at once; its queue keeps 1,000 completed
    // jobs per shard), enqueued while no worker runs: each found by id, on the shard its id names.
    const job = { message: 'not thrown', times: 0 };
    const created = await inParallel(Array.from({ length: 3000 }), 50, () => c.enqueue('fail', job));
    t.diagnostic(`${at()} 3,000 enqueued`);
    const ids = created.map((j) => j.id);
    assert.equal(new Set(ids).size, 3000, 'generated ids are unique across shards');
    const perShard = new Array<number>(6).fill(0);
    for (const j of created) {
      assert.equal(j.shard, shardInId(j.id), `${j.id} names its shard`);
      perShard[j.shard!]!++;
    }
    t.diagnostic(`jobs per shard: ${perShard.join(', ')}`);
    for (const n of perShard) assert.ok(n > 350 && n < 650, `even spread: ${perShard.join(', ')}`);
    const shards = c.queues.shardsOf('default');
    assert.deepEqual(await Promise.all(shards.map((q) => q.getWaitingCount())), perShard, 'each shard queue holds the jobs routed to it');
    const found = await inParallel(ids, 50, (id) => c.getJob({ queue: 'default', id }));
    assert.equal(found.filter((j) => j?.state === 'waiting').length, 3000, 'every job is found by id, waiting');
    assert.ok(found.every((j, i) => j?.shard === created[i]!.shard));
    t.diagnostic(`${at()} 3,000 found by id`);

    // Two workers consume all 6 shards; one is SIGKILLed midway and a third takes over. The queue is
    // paused until both are up: the first one up had run all 3,000 before the kill on a loaded CI
    // machine, so the killed worker held nothing.
    await c.pauseQueue('default');
    const [a, b] = [group.start('worker'), group.start('worker')];
    await Promise.all([a, b].map((w) => w.waitForMessage('Worker started', 60_000)));
    assert.deepEqual(shardsOf(a), { default: 6 });
    t.diagnostic(`${at()} workers started`);
    await c.resumeQueue('default');
    const completed = async () => (await Promise.all(shards.map((q) => q.getCompletedCount()))).reduce((x, y) => x + y, 0);
    await waitFor(async () => (await completed()) >= 500, '500 jobs completed', 90_000, 10);
    a.kill('SIGKILL');
    await a.exited;
    t.diagnostic(`${at()} SIGKILL after ${await completed()} completed`);
    const c3 = group.start('worker');
    await waitFor(async () => (await completed()) === 3000, 'all 3,000 jobs completed', 120_000, 200).catch(async (err: Error) => {
      const counts = await Promise.all(shards.map((q) => q.getJobCounts()));
      throw new Error(`${err.message}: per shard ${JSON.stringify(counts)}`);
    });
    t.diagnostic(`${at()} all completed`);

    // Exactly once: each job completed once, on its first attempt. A job ran again only where BullMQ
    // found its lock lost (stalledCounter > 0): the killed worker's jobs, and on a badly overloaded
    // machine a live worker's too (at-least-once, as documented).
    const jobs = await inParallel(ids, 50, (id) => c.queues.findJob('default', id));
    assert.equal(jobs.filter((j) => j?.finishedOn && j.returnvalue?.succeededOnAttempt === 1 && j.attemptsMade === 1).length, 3000);
    const stalled = new Set(jobs.filter((j) => j!.stalledCounter > 0).map((j) => String(j!.id)));
    const infos = await inParallel(ids, 50, (id) => c.getJob({ queue: 'default', id }));
    assert.ok(infos.every((j) => j?.state === 'completed'), 'every job found by id, completed');
    // The live workers' own log lines: a job they ran twice must be one BullMQ saw stall.
    const runs = new Map<string, string[]>();
    for (const w of [b, c3]) {
      for (const line of w.lines) {
        if (line.msg === 'fail job succeeded after failing as asked') runs.set(String(line.job), [...(runs.get(String(line.job)) ?? []), w.name]);
      }
    }
    assert.deepEqual(
      duplicateRuns(new Map([...runs].filter(([id]) => !stalled.has(id)))),
      [],
      'no job ran twice unless BullMQ saw its lock lost',
    );
    assert.ok(stalled.size >= 1, 'the killed worker held jobs that ran again');
    t.diagnostic(`${at()} ${stalled.size} jobs ran again after their worker was lost (the killed one has ${6 * CONCURRENCY} slots); none lost`);

    // A batch whose jobs spread over the 6 shards, and a join after jobs on two different shards:
    // each then runs once, after its jobs.
    const batch = await c.batch(Array.from({ length: 24 }, () => ({ name: 'fail', data: job })), { then: { name: 'fail', data: job } });
    const batchShards = new Set(await Promise.all(batch.jobs.map(async (j) => (await c.getJob(j))?.shard)));
    assert.ok(batchShards.size >= 3, `the batch spread over shards: ${[...batchShards].join(', ')}`);
    const [p1, p2] = [created[0]!, created.find((j) => j.shard !== created[0]!.shard)!];
    const joined = await c.continueWith([p1, p2], 'fail', job);
    for (const ref of [batch.then!, joined]) {
      await waitFor(async () => (await c.getJob(ref))?.state === 'completed', `${ref.queue}/${ref.id} completed`, 60_000, 100);
    }
    const bs = (await c.getBatch(batch.id))!;
    assert.deepEqual([bs.completed, bs.failed, bs.pending], [24, 0, 0]);
    assert.equal((await c.getBatch(joined.join!))?.completed, 2);
    await c3.stop();
    await b.stop();
  });

  it('K from 3 to 6 and back with jobs in flight: nothing lost, ids and idempotency keys still found, continuations across shards; a schedule on a sharded queue fires once per tick with 2 producers', { timeout: 300_000 }, async (t) => {
    const base = {
      REDIS_CLUSTER_NODES: shared.cluster.seeds,
      QUEUE_PREFIX: uniquePrefix(),
      WORKER_CONCURRENCY: '3',
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
    };
    const env3 = { ...base, QUEUE_SHARDS: 'batch:3,default:6' };
    const env6 = { ...base, QUEUE_SHARDS: 'batch:6,default:6' };
    const group = shared.group(base);
    // Two producers upsert the per-second heartbeat, on a queue with 6 shards.
    const producers = [group.start('producer', env3), group.start('producer', env3)];
    const c3 = await shared.client(env3);
    const refs: Created[] = [];
    const sleepJob = { ms: 20 };

    // K = 3: generated ids, idempotency keys and a shard key; a worker starts on them.
    refs.push(...(await inParallel(Array.from({ length: 120 }), 20, () => c3.enqueue('sleep', sleepJob))));
    const keyed = await inParallel(Array.from({ length: 60 }, (_, i) => `order-${i}`), 20, (jobId) => c3.enqueue('sleep', sleepJob, { jobId }));
    assert.ok(keyed.every((j, i) => j.id === `order-${i}` && j.shard === shardOf(j.id, 3)), 'a caller id is stored as given, on the shard of its hash');
    const fifo = await inParallel(Array.from({ length: 20 }), 1, () => c3.enqueue('sleep', sleepJob, { shardKey: 'customer-7' }));
    assert.equal(new Set(fifo.map((j) => j.shard)).size, 1, 'one shard key, one shard');
    // A key with a shard key: the id names the shard; retrying with the returned id adds nothing.
    const invoice = await c3.enqueue('sleep', sleepJob, { jobId: 'invoice-9', shardKey: 'customer-7' });
    assert.equal(invoice.id, `s${fifo[0]!.shard}-invoice-9`);
    const retried = await c3.enqueue('sleep', sleepJob, { jobId: invoice.id, shardKey: 'customer-7' });
    assert.deepEqual([retried.id, retried.duplicate], [invoice.id, true]);
    refs.push(...keyed, ...fifo, invoice);
    const w3 = group.start('worker', env3);
    await w3.waitForMessage('Worker started', 60_000);
    assert.deepEqual(shardsOf(w3), { default: 6, batch: 3 });
    await waitFor(async () => (await Promise.all(c3.queues.shardsOf('batch').map((q) => q.getCompletedCount()))).reduce((x, y) => x + y) >= 20, 'some jobs done at K=3', 60_000, 100);

    // K = 6: new workers first, then the old one stops gracefully while jobs are still waiting.
    const w6 = group.start('worker', env6);
    await w6.waitForMessage('Worker started', 60_000);
    assert.deepEqual(shardsOf(w6), { default: 6, batch: 6 });
    await w3.stop(30_000);
    const c6 = await shared.client(env6);
    refs.push(...(await inParallel(Array.from({ length: 120 }), 20, () => c6.enqueue('sleep', sleepJob))));
    assert.ok(refs.slice(-120).some((j) => j.shard! >= 3), 'K=6 uses the new shards');
    // The same idempotency keys after K changed: the jobs added at K=3 are found, nothing new is added.
    const again = await inParallel(Array.from({ length: 60 }, (_, i) => `order-${i}`), 20, (jobId) => c6.enqueue('sleep', sleepJob, { jobId }));
    const moved = again.filter((j, i) => shardOf(j.id, 6) !== keyed[i]!.shard).length;
    assert.ok(moved > 0, 'some keys hash to another shard under K=6');
    assert.deepEqual(
      again.filter((j, i) => !(j.duplicate === true && j.shard === keyed[i]!.shard)).map((j) => j.id),
      [],
      'every reused key reports the K=3 job as a duplicate',
    );
    // The same through a bulk enqueue: each reused key reports its K=3 job, nothing is added.
    const bulkAgain = await c6.enqueueMany(Array.from({ length: 60 }, (_, i) => ({ name: 'sleep' as const, data: sleepJob, opts: { jobId: `order-${i}` } })));
    assert.deepEqual(
      bulkAgain.filter((j, i) => !(j.duplicate === true && j.shard === keyed[i]!.shard)).map((j) => j.id),
      [],
      'a bulk enqueue finds the K=3 jobs too',
    );

    // Continuations across shards and queues: a chain, and a continuation of a job added at K=3.
    const chain = await c6.chain().then('sleep', { ms: 10, result: 'one' }).then('sleep', { ms: 10 }).then('hello-world', {}).enqueue();
    const oldParent = keyed.find((j) => shardOf(j.id, 6) !== j.shard)!;
    const contOfOld = await c6.continueWith(oldParent, 'sleep', { ms: 1 }, { on: 'finished' });

    // Back to K = 3 in configuration: the history says 6, so this worker still consumes 6 shards.
    const w3b = group.start('worker', env3);
    await w3b.waitForMessage('Worker started', 60_000);
    assert.deepEqual(shardsOf(w3b), { default: 6, batch: 6 });
    await w6.stop(30_000);
    refs.push(...(await inParallel(Array.from({ length: 30 }), 10, () => c6.enqueue('sleep', sleepJob))));

    const everything: JobRef[] = [...refs, ...chain, contOfOld];
    let pending: string[] = [];
    await waitFor(
      async () => {
        const states = await inParallel(everything, 30, async (r) => (await c3.getJob(r))?.state);
        pending = everything.flatMap((r, i) => (states[i] === 'completed' ? [] : [`${r.queue}/${r.id}: ${states[i] ?? 'not found'}`]));
        return pending.length === 0;
      },
      'every job, from both K, completed (looked up by a K=3 client)',
      120_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; not completed: ${pending.slice(0, 20).join(', ')} (${pending.length} in all)`);
    });
    const viaK6 = await inParallel(everything, 30, async (r) => (await c6.getJob(r))?.state);
    assert.ok(viaK6.every((s) => s === 'completed'), 'a K=6 client finds every job too');
    t.diagnostic(`${everything.length} jobs over K=3 → 6 → 3 (history 6); ${moved} of 60 keys hash elsewhere under K=6`);

    // The chain ran in order, each step after the previous one finished, across shards and queues.
    const infos = await Promise.all(chain.map((r) => c6.getJob(r)));
    for (let i = 1; i < infos.length; i++) {
      assert.ok(Date.parse(infos[i]!.processedAt!) >= Date.parse(infos[i - 1]!.finishedAt!), `step ${i} after step ${i - 1}`);
    }
    const oldInfo = await c6.getJob(oldParent);
    assert.ok(Date.parse((await c6.getJob(contOfOld))!.processedAt!) >= Date.parse(oldInfo!.finishedAt!));

    // The heartbeat: on exactly one shard (the shard of its id), each tick run once.
    await Promise.all(producers.map((p) => p.waitForMessage('Schedules synced', 60_000)));
    const holders: number[] = [];
    for (const [i, q] of c6.queues.shardsOf('default').entries()) if (await q.getJobScheduler('heartbeat')) holders.push(i);
    assert.deepEqual(holders, [shardOf('heartbeat', 6)], 'the schedule exists once, on the shard of its id');
    const from = Date.now();
    const workers = [w3, w6, w3b];
    await waitFor(() => ticksOf(helloRuns(workers), 'heartbeat').filter((x) => x > from).length >= 4, '4 more heartbeat ticks', 30_000, 100);
    const runs = helloRuns(workers);
    const ticks = ticksOf(runs, 'heartbeat');
    assert.deepEqual(duplicateRuns(new Map([...runs].filter(([id]) => id.startsWith('repeat:heartbeat:')))), [], 'no tick ran twice');
    const recent = ticks.filter((x) => x > from);
    assert.deepEqual(missingSeconds(recent), [], `consecutive ticks: ${recent.join(', ')}`);
    t.diagnostic(`heartbeat: ${ticks.length} ticks over the whole test, each once; on shard ${holders[0]} of default`);
  });
});
