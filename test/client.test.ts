import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, JobCenterClient, NotFoundError, UnavailableError, ValidationError, type ChainBuilder } from '../src/client.js';
import { jobs, type Jobs } from '../contracts/index.js';
import type { ScheduleSpec, ScheduleSpecOf } from '../src/schedules.js';
import type { CenterService } from '../src/server/service.js';
import { freePort } from '../src/redis/redis-server.js';
import { silentLogger, testClient } from './support/center.js';
import { waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * The typed client against a real Redis: compile-time payload types, validation before any write,
 * delays, idempotency keys, job lookup, and failing fast (UnavailableError) while Redis is down.
 */

let redis: TestRedis;
const clients: JobCenterClient[] = [];

before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await redis.stop();
});

async function setup(url = redis.url) {
  const client = await testClient({ REDIS_URL: url, QUEUE_PREFIX: uniquePrefix() });
  clients.push(client);
  return client;
}

function invalid(field: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    assert.ok(err.details.some((d) => d.field === field), `expected a detail for ${field}: ${JSON.stringify(err.details)}`);
    if (message) assert.match(err.message, message);
    return true;
  };
}

/** Keys the center wrote under the client's prefix (BullMQ's per-queue `meta` key aside). */
async function written(client: JobCenterClient): Promise<string[]> {
  const keys = await redis.client.keys(`${client.config.prefix}:*`);
  return keys.filter((k) => !k.endsWith(':meta'));
}

describe('typed client', () => {
  it('checks payloads at compile time and again at run time', async () => {
    const client = await setup();
    // The typecheck over test/ fails if any of these calls stops being a type error.
    const wrong = [
      // @ts-expect-error ms must be a number
      () => client.enqueue('sleep', { ms: 'soon' }),
      // @ts-expect-error ms is required
      () => client.enqueue('sleep', {}),
      // @ts-expect-error hello-world takes no fields
      () => client.enqueue('hello-world', { extra: 1 }),
      // @ts-expect-error unknown job name
      () => client.enqueue('no-such-job', {}),
      // @ts-expect-error fail needs message
      () => client.recurring.upsert('r', { every: 1000 }, 'fail', { msg: 'x' }),
      // @ts-expect-error the continuation's payload is typed too
      () => client.continueWith({ queue: 'default', id: '1' }, 'sleep', { ms: true }),
    ];
    for (const call of wrong) await assert.rejects(call, ValidationError);
    assert.deepEqual(await written(client), [], 'nothing was written');
    const ok = await client.enqueue('sleep', { ms: 1, result: { any: ['json'] } });
    assert.equal(ok.state, 'waiting');
  });

  it('types every job of enqueueMany, batch, a schedule\'s then and chain by its name, and a typed client still goes where JobCenterClient does', async () => {
    const client = await setup();
    // The typecheck over test/ fails if any of these calls stops being a type error; at run time
    // each is refused before anything is written.
    const wrong = [
      // @ts-expect-error ms must be a number
      () => client.enqueueMany([{ name: 'sleep', data: { ms: 1 } }, { name: 'sleep', data: { ms: 'soon' } }]),
      // @ts-expect-error data is checked against its own name's payload (hello-world takes no fields), not any job's
      () => client.enqueueMany([{ name: 'hello-world', data: { ms: 1 } }]),
      // @ts-expect-error sleep needs data
      () => client.enqueueMany([{ name: 'sleep' }]),
      // @ts-expect-error sleep takes no color
      () => client.enqueueMany([{ name: 'sleep', data: { ms: 1, color: 'red' } }]),
      // @ts-expect-error unknown job name
      () => client.enqueueMany([{ name: 'no-such-job', data: {} }]),
      // @ts-expect-error a batch's jobs are typed: fail needs message
      () => client.batch([{ name: 'fail', data: {} }]),
      // @ts-expect-error and so is its then job
      () => client.batch([{ name: 'sleep', data: { ms: 1 } }], { then: { name: 'fail', data: { times: 1 } } }),
      // @ts-expect-error then's data may be left out only where {} is a valid payload (sleep needs ms)
      () => client.batch([{ name: 'sleep', data: { ms: 1 } }], { then: { name: 'sleep' } }),
      // @ts-expect-error unknown then job
      () => client.batch([{ name: 'sleep', data: { ms: 1 } }], { then: { name: 'no-such-job' } }),
      // @ts-expect-error a schedule's then job is typed: ms must be a number
      () => client.recurring.upsert('r', { every: 1000 }, 'hello-world', {}, { then: { name: 'sleep', data: { ms: 'x' } } }),
      // @ts-expect-error unknown then job of a schedule
      () => client.recurring.upsert('r', { every: 1000 }, 'hello-world', {}, { overlap: 'skip', then: { name: 'no-such-job', on: 'finished' } }),
      // (void: a ChainBuilder has a `then` method, so an async function must not return one.)
      // @ts-expect-error each step of a chain is typed: fail needs message
      async () => void client.chain().then('sleep', { ms: 1 }).then('fail', { msg: 'x' }),
      // @ts-expect-error unknown job name in a chain
      async () => void client.chain().then('no-such-job', {}),
    ];
    for (const call of wrong) await assert.rejects(call, ValidationError);
    assert.deepEqual(await written(client), [], 'nothing was written');

    const many = await client.enqueueMany([
      { name: 'sleep', data: { ms: 1 } },
      { name: 'hello-world', data: {}, opts: { delay: 60_000 } },
      { name: 'fail', data: { message: 'x', times: 0 } },
    ]);
    assert.deepEqual(many.map((c) => c.name), ['sleep', 'hello-world', 'fail']);
    const batch = await client.batch([{ name: 'sleep', data: { ms: 1 } }], { then: { name: 'scheduler-test' }, on: 'finished' });
    assert.equal(batch.then?.name, 'scheduler-test');
    const schedule = await client.recurring.upsert('typed-then', { every: 60_000 }, 'hello-world', {}, { then: { name: 'sleep', data: { ms: 1 }, on: 'finished' } });
    assert.deepEqual(schedule.then, { name: 'sleep', data: { ms: 1 }, on: 'finished' });
    const steps = await client.chain().then('sleep', { ms: 1 }).then('hello-world', {}).enqueue();
    assert.equal(steps.length, 2);
    // Awaiting a chain without .enqueue() (it has a `then`, so await calls it) says what to do.
    const unfinished: unknown = client.chain().then('sleep', { ms: 1 });
    await assert.rejects(async () => await unfinished, /call \.enqueue\(\)/);

    // Declared schedules (producers/schedules.ts) are typed the same way, and still go where ScheduleSpec[] does.
    const declared: ScheduleSpecOf<Jobs>[] = [
      { id: 'a', repeat: { every: 1000 }, name: 'sleep', data: { ms: 1 }, then: { name: 'hello-world' } },
      // @ts-expect-error a declared schedule's payload is typed by its job
      { id: 'b', repeat: { every: 1000 }, name: 'sleep', data: { ms: 'x' } },
      // @ts-expect-error and so is its then job's
      { id: 'c', repeat: { every: 1000 }, name: 'hello-world', data: {}, then: { name: 'fail', data: {} } },
    ];
    const specs: readonly ScheduleSpec[] = declared;
    assert.equal(specs.length, 3);

    // A client typed with a catalog goes where the default one does (the server's CenterService,
    // the CLI's JobCenterClient); there names are known only at run time and take the unchecked calls.
    const untyped: JobCenterClient = client;
    const service: CenterService = client;
    const chain: ChainBuilder = client.chain();
    assert.ok(chain);
    assert.equal((await service.enqueueManyUnchecked([{ name: 'sleep', data: { ms: 1 } }]))[0]?.name, 'sleep');
    assert.equal((await untyped.batchUnchecked([{ name: 'sleep', data: { ms: 1 } }], { then: { name: 'hello-world' } })).then?.name, 'hello-world');
    // Untyped, any name compiles; the run-time check still refuses it.
    await assert.rejects(() => untyped.enqueueMany([{ name: 'no-such-job', data: {} }]), ValidationError);
  });

  it('validates everything before writing, naming the field', async () => {
    const client = await setup();
    await assert.rejects(() => client.add('nope', {}), invalid('name', /known jobs: hello-world, scheduler-test, sleep, fail/));
    await assert.rejects(() => client.add('sleep', { ms: -1 }), invalid('data.ms'));
    await assert.rejects(() => client.add('sleep', { ms: 1, color: 'red' }), invalid('data', /color/));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { delay: -5 }), invalid('delay', /-5/));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { delay: 1.5 }), invalid('delay'));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { delay: 5, at: new Date() }), invalid('delay', /not both/));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { at: new Date('nonsense') }), invalid('runAt'));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { jobId: 'a:b' }), invalid('jobId'));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { jobId: '123' }), invalid('jobId', /look like a number/));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { priority: 0 }), invalid('priority'));
    // BullMQ's bound is 2^21 - 1: above it its add threw after validation had passed (a 500).
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { priority: 2_097_152 }), invalid('priority', /1 \(highest\) to 2097151/));
    await assert.rejects(() => client.enqueueMany([{ name: 'sleep', data: { ms: 1 } }, { name: 'hello-world', data: {}, opts: { priority: 2_097_152 } }]), invalid('jobs.1.priority'));
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { attempts: 0 }), invalid('attempts'));
    assert.throws(() => client.chain().then('sleep', { ms: 'x' } as never), invalid('data.ms'));
    assert.deepEqual(await written(client), []);
  });

  it('refuses number-like, dot-only and queue-key-named job ids and over-deep payloads before writing (BullMQ failed on them after writing)', async () => {
    const client = await setup();
    for (const jobId of ['-1', '-1.5', '-1e3', '1e5', '1.5', '.5', '0x1f', '1E-3', 'Infinity', 'nan', '.', '..', 'x'.repeat(129), 'id', 'wait', 'meta', 'metrics', 'cont-k4', 'bat-b1-0', 'batthen-b1', 'catchup-1700000000000-nightly']) {
      await assert.rejects(() => client.add('sleep', { ms: 1 }, { jobId }), invalid('jobId'), jobId);
    }
    let deep: unknown = 1;
    for (let i = 0; i < 3000; i++) deep = [deep];
    await assert.rejects(() => client.add('sleep', { ms: 1, result: deep as never }), invalid('data', /nested more than 64 levels/));
    await assert.rejects(() => client.recurring.upsert('deep', { every: 1000 }, 'sleep', { ms: 1, result: deep as never }), invalid('data'));
    assert.deepEqual(await written(client), []);
    // Letters around digits are fine, as is a payload at the limit.
    let limit: unknown = 1;
    for (let i = 0; i < 63; i++) limit = [limit];
    assert.equal((await client.add('sleep', { ms: 1, result: limit as never }, { jobId: '1e5x' })).id, '1e5x');
    // Nor can a parent have such an id (the queue's keys exist now): the registration would take
    // the wait list for a job.
    await assert.rejects(() => client.continueWith({ queue: 'batch', id: 'wait' }, 'sleep', { ms: 1 }), invalid('after.id', /queue's own keys/));
    // A plain job that took a continuation's id made BullMQ drop the continuation when its parent
    // finished; the continuation's own key is free to be anything valid.
    const parent = await client.add('sleep', { ms: 1 }, { delay: 60_000 });
    const continuation = await client.continueWith(parent, 'sleep', { ms: 1 }, { jobId: 'k4' });
    assert.equal(continuation.id, 'cont-k4');
    await assert.rejects(() => client.add('sleep', { ms: 1 }, { jobId: 'cont-k4', delay: 60_000 }), invalid('jobId', /must not start with "cont-"/));
    // Nor is there a job to act on by such an id: they read the key as a job hash (500 WRONGTYPE,
    // or `meta` as an existing job in the wrong state).
    await client.pauseQueue('batch');
    for (const id of ['wait', 'events', 'id', 'meta', 'repeat', 'completed']) {
      const ref = { queue: 'batch', id };
      await assert.rejects(() => client.retry(ref), NotFoundError, `retry ${id}`);
      await assert.rejects(() => client.promoteJob(ref), NotFoundError, `promote ${id}`);
      await assert.rejects(() => client.cancelJob(ref), NotFoundError, `cancel ${id}`);
      await assert.rejects(() => client.jobLogs(ref), NotFoundError, `logs ${id}`);
      assert.equal(await client.getJob(ref), undefined, `get ${id}`);
    }
    assert.equal((await client.queueSummary('batch')).paused, true, "the queue's meta is untouched");
  });

  it('schedules with a delay or at a time', async () => {
    const client = await setup();
    const later = await client.schedule('hello-world', {}, { delay: 60_000 });
    assert.equal(later.state, 'delayed');
    // An undefined delay is no time at all (from untyped callers): refused, not run at once.
    await assert.rejects(() => client.schedule('hello-world', {}, { delay: undefined } as never), invalid('delay'));
    const at = new Date(Date.now() + 3_600_000);
    const timed = await client.schedule('scheduler-test', { note: 'at' }, { at });
    assert.equal(timed.state, 'delayed');
    const job = await client.queues.get('default').getJob(timed.id);
    assert.ok(Math.abs(job!.timestamp + job!.delay - at.getTime()) < 1000, 'runs at the requested time');
    const past = await client.schedule('hello-world', {}, { at: new Date(Date.now() - 1000) });
    assert.equal(past.state, 'waiting', 'a time in the past runs now');
    await assert.rejects(() => client.schedule('hello-world', {}, {} as { delay: number }), invalid('delay'));
  });

  it('answers the state a job really has: prioritized for a priority, as getJob and the worker see it', async () => {
    const client = await setup();
    // The answer said "waiting" while BullMQ had put the job in its prioritized set.
    const single = await client.enqueue('hello-world', {}, { priority: 3 });
    const [bulk] = await client.enqueueMany([{ name: 'hello-world', data: {}, opts: { priority: 3 } }]);
    const keyed = await client.enqueue('hello-world', {}, { priority: 3, jobId: 'prio-1' });
    for (const created of [single, bulk!, keyed]) {
      assert.equal(created.state, 'prioritized', JSON.stringify(created));
      assert.equal((await client.getJob(created))?.state, 'prioritized');
    }
    assert.equal((await client.enqueue('hello-world', {}, { priority: 3, delay: 60_000 })).state, 'delayed');
    assert.equal((await client.enqueue('hello-world', {})).state, 'waiting');
  });

  it('dedupe on a sharded queue: one key, one job; with a shardKey it is refused (jobs with one key and different shardKeys all ran)', async () => {
    const client = await testClient({ REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), QUEUE_SHARDS: 'batch:4' });
    clients.push(client);
    // 'a' and 'b' route to different shards of 4, where BullMQ's deduplication never met.
    assert.notEqual(client.queues.shardFor('batch', 'a'), client.queues.shardFor('batch', 'b'));
    await assert.rejects(() => client.enqueue('sleep', { ms: 1 }, { dedupe: { key: 'dk' }, shardKey: 'a' }), invalid('dedupe', /shardKey/));
    await assert.rejects(
      () => client.enqueueMany([{ name: 'sleep', data: { ms: 1 } }, { name: 'sleep', data: { ms: 1 }, opts: { dedupe: { key: 'dk' }, shardKey: 'b' } }]),
      invalid('jobs.1.dedupe'),
    );
    // Nothing but the shard history a sharded client records when it starts.
    assert.deepEqual((await written(client)).filter((k) => !k.endsWith(':jc:shards:batch')), []);
    const first = await client.enqueue('sleep', { ms: 1 }, { dedupe: { key: 'dk' } });
    const second = await client.enqueue('sleep', { ms: 2 }, { dedupe: { key: 'dk' } });
    assert.equal(second.deduplicated, true);
    assert.equal(second.id, first.id);
    // An unsharded queue ignores shardKey: both together are fine there, and deduplicate.
    const x = await client.enqueue('hello-world', {}, { dedupe: { key: 'hk' }, shardKey: 'a' });
    const y = await client.enqueue('hello-world', {}, { dedupe: { key: 'hk' }, shardKey: 'b' });
    assert.equal(y.deduplicated, true);
    assert.equal(y.id, x.id);
  });

  it('an idempotency key shaped like a generated id (s5-x) still finds its job after K grew (a second job was added)', async () => {
    const prefix = uniquePrefix();
    const four = await testClient({ REDIS_URL: redis.url, QUEUE_PREFIX: prefix, QUEUE_SHARDS: 'batch:4' });
    clients.push(four);
    await four.shardsLoaded();
    // Under K = 4, shard 5 does not exist: the key went to its hash.
    const first = await four.enqueue('sleep', { ms: 1 }, { jobId: 's5-x' });
    assert.notEqual(first.shard, 5);
    const eight = await testClient({ REDIS_URL: redis.url, QUEUE_PREFIX: prefix, QUEUE_SHARDS: 'batch:8' });
    clients.push(eight);
    await eight.shardsLoaded();
    const again = await eight.enqueue('sleep', { ms: 2 }, { jobId: 's5-x' });
    assert.equal(again.duplicate, true, JSON.stringify(again));
    assert.equal(again.shard, first.shard);
    const [bulk] = await eight.enqueueMany([{ name: 'sleep', data: { ms: 3 }, opts: { jobId: 's5-x' } }]);
    assert.equal(bulk!.duplicate, true, JSON.stringify(bulk));
    let waiting = 0;
    for (const q of eight.bullQueues()) if (eight.queueShard(q).queue === 'batch') waiting += await q.getJobCountByTypes('waiting');
    assert.equal(waiting, 1);
  });

  it('a retry of a keyed enqueue with a shardKey gets its own job back, not one an earlier K\'s route holds', async () => {
    const client = await testClient({ REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), QUEUE_SHARDS: 'batch:4' });
    clients.push(client);
    await client.shardsLoaded();
    const first = await client.enqueue('sleep', { ms: 1 }, { jobId: 'order-9', shardKey: 'a' });
    assert.match(first.id, /^s\d-order-9$/);
    assert.notEqual(first.shard, 0, "'a' routes off shard 0 among 4, where K = 1 put every job");
    // The same key without a shardKey is another job (ids of shard-keyed jobs name their shard).
    const plain = await client.enqueue('sleep', { ms: 2 }, { jobId: 'order-9' });
    assert.equal(plain.id, 'order-9');
    // The retry answered plain's job (the route under K = 1 is order-9 on shard 0).
    const retry = await client.enqueue('sleep', { ms: 1 }, { jobId: 'order-9', shardKey: 'a' });
    assert.deepEqual({ id: retry.id, shard: retry.shard, duplicate: retry.duplicate }, { id: first.id, shard: first.shard, duplicate: true });
    const [bulk] = await client.enqueueMany([{ name: 'sleep', data: { ms: 1 }, opts: { jobId: 'order-9', shardKey: 'a' } }]);
    assert.deepEqual({ id: bulk!.id, duplicate: bulk!.duplicate }, { id: first.id, duplicate: true });
  });

  it('an idempotency key (jobId) creates one job however often it is enqueued', async () => {
    const client = await setup();
    const first = await client.enqueue('sleep', { ms: 1 }, { jobId: 'order-42' });
    const second = await client.enqueue('sleep', { ms: 999 }, { jobId: 'order-42' });
    assert.equal(first.id, 'order-42');
    assert.equal(first.duplicate, undefined);
    assert.equal(second.id, 'order-42');
    assert.equal(second.duplicate, true);
    const counts = await client.queues.get('batch').getJobCounts('waiting', 'delayed');
    assert.deepEqual(counts, { waiting: 1, delayed: 0 });
    assert.deepEqual((await client.getJob(first))?.data, { ms: 1 }, 'the first payload wins');
  });

  it('a retry within the same millisecond is still reported as a duplicate (single and bulk)', async () => {
    // The check used to compare timestamps: on a fast machine 293 of 500 back-to-back retries
    // came back as created (201 over HTTP) although nothing was added.
    const client = await setup();
    const wrong: string[] = [];
    for (let i = 0; i < 300; i++) {
      const jobId = `fast-${i}`;
      const first = await client.enqueue('sleep', { ms: 0 }, { jobId });
      const again = await client.enqueue('sleep', { ms: 0 }, { jobId });
      if (first.duplicate || !again.duplicate) wrong.push(jobId);
    }
    assert.deepEqual(wrong, [], 'the first add of a key is created, the retry a duplicate');
    const bulk = Array.from({ length: 50 }, (_, i) => ({ name: 'sleep' as const, data: { ms: 0 }, opts: { jobId: `bulk-${i}` } }));
    const added = await client.enqueueMany(bulk);
    const retried = await client.enqueueMany(bulk);
    assert.ok(added.every((j) => !j.duplicate) && retried.every((j) => j.duplicate === true), 'bulk: created once, then duplicates');
  });

  it('cancelJob and promoteJob answer { queue, id, … } only, whatever else the ref passed carries', async () => {
    // The README passes enqueue results to them; a duplicate's answer came back with duplicate: true,
    // a join's with join, and every one with the job's name, as if the cancel or promote had said so.
    const client = await setup();
    await client.enqueue('hello-world', {}, { jobId: 'to-cancel', delay: 3_600_000 });
    const dup = await client.enqueue('hello-world', {}, { jobId: 'to-cancel', delay: 3_600_000 });
    assert.equal(dup.duplicate, true);
    assert.deepEqual(await client.cancelJob(dup, 'ops'), { queue: 'default', id: 'to-cancel', outcome: 'removed', state: 'removed' });
    const later = await client.schedule('hello-world', {}, { delay: 3_600_000 });
    assert.deepEqual(await client.promoteJob(later), { queue: 'default', id: later.id, state: 'waiting' });
    const parent = await client.schedule('hello-world', {}, { delay: 3_600_000 });
    const join = await client.continueWith([parent, later], 'scheduler-test', {}, { jobId: 'join-1' });
    assert.equal(join.join, 'join-1');
    assert.deepEqual(await client.cancelJob(join, 'ops'), { queue: 'default', id: join.id, outcome: 'cancelled', state: 'cancelled' });
  });

  it('getJob reports state and data, awaiting continuations, and undefined / NotFound for unknowns', async () => {
    const client = await setup();
    const ref = await client.enqueue('fail', { message: 'x' });
    const info = await client.getJob(ref);
    assert.equal(info?.state, 'waiting');
    assert.deepEqual(info?.data, { message: 'x' });
    assert.equal(info?.attemptsMade, 0);
    assert.ok(info?.createdAt && !Number.isNaN(Date.parse(info.createdAt)));
    const cont = await client.continueWith(ref, 'hello-world', {});
    assert.equal((await client.getJob(cont))?.state, 'awaiting');
    assert.equal(await client.getJob({ queue: 'default', id: 'missing' }), undefined);
    await assert.rejects(() => client.getJob({ queue: 'nope', id: '1' }), NotFoundError);
    await assert.rejects(() => client.continueWith({ queue: 'default', id: 'missing' }, 'hello-world', {}), NotFoundError);
    await assert.rejects(() => client.continueWith(ref, 'hello-world', {}, { on: 'always' as 'success' }), invalid('on'));
  });

  it('fails fast with UnavailableError while Redis is down, and recovers', async () => {
    const own = await startTestRedis({ appendonly: false });
    try {
      const client = await setup(own.url);
      await client.enqueue('hello-world', {});
      await own.server.stop();
      await waitFor(() => client.queues.redis.status !== 'ready', 'the client to notice');
      const started = Date.now();
      await assert.rejects(() => client.enqueue('hello-world', {}), UnavailableError);
      await assert.rejects(() => client.recurring.list(), UnavailableError);
      assert.ok(Date.now() - started < 2000, `failed fast (${Date.now() - started} ms)`);
      await assert.rejects(() => client.enqueue('sleep', { ms: -1 }), ValidationError, 'validation still comes first');
      await own.restart();
      const ok = await waitFor(() => client.enqueue('hello-world', {}).catch(() => undefined), 'enqueue after Redis is back', 20_000);
      assert.equal(ok.state, 'waiting');
    } finally {
      await own.stop();
    }
  });

  it('a call made right after createClient waits for the first connection (ready() is optional, as the README shows)', async () => {
    for (let i = 0; i < 5; i++) {
      const client = createClient({ contracts: jobs, env: { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() }, logger: silentLogger });
      clients.push(client);
      // It failed with "Redis is unreachable (connection connecting)" every time.
      assert.equal((await client.enqueue('hello-world', {})).state, 'waiting');
    }
  });

  it('createClient reads the environment; ready() gives up with UnavailableError', async () => {
    const port = await freePort();
    const client = createClient({ contracts: jobs, env: { REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: uniquePrefix() }, logger: silentLogger });
    clients.push(client);
    assert.equal(client.config.redis.url, `redis://127.0.0.1:${port}`);
    const started = Date.now();
    await assert.rejects(() => client.ready(300), UnavailableError);
    await assert.rejects(() => client.enqueue('hello-world', {}), UnavailableError);
    assert.ok(Date.now() - started < 2000);
  });
});
