import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import type { JobCenterClient } from '../src/client.js';
import { fail, sleep } from '../contracts/index.js';
import { Lifecycle } from '../src/lifecycle.js';
import { defineHandler } from '../src/runtime/handler.js';
import { cancelChannel, type CancelMessage } from '../src/operations/cancel-signal.js';
import sleepHandler from '../workers/handlers/sleep.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import { silentLogger, testConfig, useTestCenter } from './support/center.js';
import { nextEvent } from './support/events.js';
import { waitFor } from './support/processes.js';

const center = useTestCenter();
const setup = (extra: Record<string, string> = {}) => center.setup(extra);

const state = (client: JobCenterClient, ref: { queue: string; id: string }) =>
  client.getJob(ref).then((j) => j?.state);

describe('worker process', () => {
  it('runs a sleep job with progress and returns { sleptMs, result }', async () => {
    const { group, client } = await setup();
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started');
    const ref = await client.enqueue('sleep', { ms: 300, result: { hello: 'world' } });
    const done = await waitFor(async () => ((await state(client, ref)) === 'completed' ? client.getJob(ref) : undefined), 'sleep completed');
    assert.equal(done.progress, 100);
    const rv = done.returnValue as { sleptMs: number; result: unknown };
    assert.deepEqual(rv.result, { hello: 'world' });
    assert.ok(rv.sleptMs >= 290, `slept ${rv.sleptMs} ms`);
  });

  it('fails unknown names and invalid payloads at once, without retrying or crashing', async () => {
    const { env, group, client } = await setup();
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started');
    // Bypass the client's checks the way a foreign producer could.
    const raw = new Queue('default', { connection: { url: center.redis.url }, prefix: env.QUEUE_PREFIX });
    const unknown = await raw.add('no-such-job', {}, { attempts: 5 });
    const invalid = await raw.add('fail', { message: 42 }, { attempts: 5 });
    await raw.close();
    for (const [job, reason] of [
      [unknown, /No handler for job "no-such-job" on queue "default"/],
      [invalid, /Invalid payload for "fail": data\.message/],
    ] as const) {
      const info = await waitFor(async () => {
        const j = await client.getJob({ queue: 'default', id: String(job.id) });
        return j?.state === 'failed' ? j : undefined;
      }, `job ${job.name} failed`);
      assert.match(info.failedReason ?? '', reason, JSON.stringify(info));
      assert.equal(info.attemptsMade, 1, `not retried: ${JSON.stringify(info)}`);
    }
    const ok = await client.enqueue('sleep', { ms: 0 });
    await waitFor(async () => (await state(client, ok)) === 'completed', 'worker still processing');
    assert.ok(worker.running, worker.output());
  });

  it('fails a foreign job whose data is not JSON at once, and the API still reads it and its queue', async () => {
    const { env, group, client } = await setup();
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started');
    // Written straight into Redis, as a producer in another language might: BullMQ could not read
    // it, so the job stayed "active" for ever (taken again after each lock expiry) and every read
    // of it or listing of its queue failed.
    const key = `${env.QUEUE_PREFIX}:default`;
    await center.redis.client
      .multi()
      .hset(`${key}:garbled`, 'name', 'hello-world', 'data', 'not json{', 'opts', '{"attempts":3}', 'timestamp', String(Date.now()), 'delay', '0', 'priority', '0')
      .lpush(`${key}:wait`, 'garbled')
      .zadd(`${key}:marker`, 0, '0')
      .exec();
    const ref = { queue: 'default', id: 'garbled' };
    const info = await waitFor(async () => {
      const j = await client.getJob(ref);
      return j?.state === 'failed' ? j : undefined;
    }, 'the garbled job failed');
    assert.match(info.failedReason ?? '', /Invalid payload for "hello-world": its data is not JSON/);
    assert.equal(info.attemptsMade, 1, 'not retried');
    assert.equal(info.data, 'not json{', 'shown as stored');
    const listed = await client.listJobs({ queue: 'default' });
    assert.ok(listed.jobs.some((j) => j.id === 'garbled'), 'its queue still lists');
    const ok = await client.enqueue('hello-world', {});
    await waitFor(async () => (await state(client, ok)) === 'completed', 'worker still processing');
    assert.ok(worker.running, worker.output());
  });

  it('fails a foreign job nested too deep at once with a clear reason; a payload at the limit runs', async () => {
    const { env, group, client } = await setup();
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started');
    let deep: unknown = 1;
    for (let i = 0; i < 2500; i++) deep = [deep];
    // Bypass the client's checks the way a foreign producer could.
    const raw = new Queue('batch', { connection: { url: center.redis.url }, prefix: env.QUEUE_PREFIX });
    const job = await raw.add('sleep', { ms: 1, result: deep }, { attempts: 5 });
    await raw.close();
    const info = await waitFor(async () => {
      const j = await client.getJob({ queue: 'batch', id: String(job.id) });
      return j?.state === 'failed' ? j : undefined;
    }, 'the deep job failed');
    assert.match(info.failedReason ?? '', /Invalid payload for "sleep": data is nested more than 64 levels/);
    assert.equal(info.attemptsMade, 1, 'not retried');
    let limit: unknown = 'deepest';
    for (let i = 0; i < 63; i++) limit = { a: limit };
    const ok = await client.enqueue('sleep', { ms: 0, result: limit as never });
    await waitFor(async () => (await state(client, ok)) === 'completed', 'the job at the depth limit completed');
    assert.ok(worker.running, worker.output());
  });

  it('retries by the contract policy: fail { times: 2 } succeeds on attempt 3; without times it ends failed', async () => {
    const { group, client } = await setup();
    await group.start('worker').waitForMessage('Worker started');
    const flaky = await client.enqueue('fail', { message: 'boom', times: 2 });
    const always = await client.enqueue('fail', { message: 'always boom' }, { attempts: 2 });
    const done = await waitFor(async () => ((await state(client, flaky)) === 'completed' ? client.getJob(flaky) : undefined), 'flaky completed');
    assert.deepEqual(done.returnValue, { succeededOnAttempt: 3 });
    const failed = await waitFor(async () => ((await state(client, always)) === 'failed' ? client.getJob(always) : undefined), 'always failed');
    assert.equal(failed.failedReason, 'always boom');
    assert.equal(failed.attemptsMade, 2);
    const raw = await client.queues.get('default').getJob(always.id);
    assert.match(raw?.stacktrace?.at(-1) ?? '', /Error: always boom\n\s+at /, 'the stack is kept for the board');
  });

  it('consumes only WORKER_QUEUES', async () => {
    const { group, client } = await setup({ WORKER_QUEUES: 'batch' });
    await group.start('worker').waitForMessage('Worker started');
    const onDefault = await client.enqueue('fail', { message: 'x', times: 0 });
    const onBatch = await client.enqueue('sleep', { ms: 0 });
    await waitFor(async () => (await state(client, onBatch)) === 'completed', 'batch job done');
    // Instead of sleeping to see whether something takes it: nobody consumes `default` at all.
    assert.deepEqual(await client.queues.get('default').getWorkers(), [], 'no worker on default');
    assert.equal((await client.queues.get('batch').getWorkers()).length, 1, 'one worker on batch');
    assert.equal(await state(client, onDefault), 'waiting');
  });

  it('on SIGTERM lets an active job finish, then exits 0', async () => {
    const { group, client } = await setup();
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started');
    const ref = await client.enqueue('sleep', { ms: 1500 });
    await waitFor(async () => (await state(client, ref)) === 'active', 'job active');
    worker.kill('SIGTERM');
    const { code } = await worker.exited;
    assert.equal(code, 0, worker.output());
    assert.equal(await state(client, ref), 'completed');
  });

  it('past SHUTDOWN_TIMEOUT_MS hands the unfinished job back to the queue, where another worker completes it', async () => {
    const { group, client } = await setup({ SHUTDOWN_TIMEOUT_MS: '300' });
    const first = group.start('worker');
    await first.waitForMessage('Worker started');
    const ref = await client.enqueue('sleep', { ms: 4000 });
    await waitFor(async () => (await state(client, ref)) === 'active', 'job active');
    const t0 = Date.now();
    first.kill('SIGTERM');
    assert.equal((await first.exited).code, 0, first.output());
    assert.ok(Date.now() - t0 < 3500, 'did not wait for the job');
    assert.equal(await state(client, ref), 'waiting', 'back in the queue at once, not left active');
    await group.start('worker').waitForMessage('Worker started');
    await waitFor(async () => (await state(client, ref)) === 'completed', 'completed by the second worker', 20_000);
  });

  it('SHUTDOWN_TIMEOUT_MS=0 hands an active job back at once (it meant "wait for every job")', async () => {
    const { group, client } = await setup({ SHUTDOWN_TIMEOUT_MS: '0' });
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started');
    const ref = await client.enqueue('sleep', { ms: 20_000 });
    await waitFor(async () => (await state(client, ref)) === 'active', 'job active');
    worker.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0, worker.output());
    assert.equal(await state(client, ref), 'waiting', 'back in the queue, not run to its end');
  });

  it("a cleanup that needs longer than shutdown's default deadline gets it (the workers' SHUTDOWN_TIMEOUT_MS was cut at 60 s)", async () => {
    const lifecycle = new Lifecycle(silentLogger);
    const done: string[] = [];
    lifecycle.add('slow', null, () => new Promise<void>((r) => setTimeout(() => r(void done.push('slow')), 300)), 2000);
    lifecycle.add('quick', null, () => void done.push('quick'));
    await lifecycle.shutdown(50);
    assert.deepEqual(done, ['quick', 'slow'], 'the slow cleanup ran to its end');
  });
});

describe('worker runtime timeouts', () => {
  it('fails a run that exceeds the contract timeout and aborts its signal, then retries it', async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    const aborted: string[] = [];
    const slowSleep = { ...sleep, defaults: { ...sleep.defaults, timeoutMs: 200, attempts: 2, backoff: { type: 'fixed', delay: 10 } } };
    const runtime = await startWorkerRuntime({
      config: testConfig(env),
      logger: silentLogger,
      lifecycle,
      handlers: [
        defineHandler(slowSleep, async (data, ctx) => {
          ctx.signal.addEventListener('abort', () => aborted.push(String(ctx.signal.reason)));
          await new Promise((r) => setTimeout(r, data.ms));
          return 'too late';
        }),
      ],
    });
    try {
      const gaveUp = nextEvent(runtime.events, 'job.failed', (_job, _err, final) => final, 'the final timeout');
      const ref = await client.enqueue('sleep', { ms: 1000 }, { attempts: 2 });
      const [job, err] = await gaveUp;
      assert.equal(job.id, ref.id);
      assert.match(err.message, /exceeded its timeout of 200 ms/);
      const failed = (await client.getJob(ref))!;
      assert.equal(failed.state, 'failed');
      assert.match(failed.failedReason ?? '', /exceeded its timeout of 200 ms/);
      assert.equal(failed.attemptsMade, 2);
      assert.equal(aborted.length, 2);
    } finally {
      await lifecycle.shutdown();
    }
  });
});

describe('worker runtime: what handlers throw', () => {
  it('fails a job whose handler throws a non-Error value (null, undefined, a string, a number) with a reason, retried by policy', async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    const thrown: Record<string, unknown> = { null: null, undefined, string: 'a plain string', number: 7 };
    const runtime = await startWorkerRuntime({
      config: testConfig(env),
      logger: silentLogger,
      lifecycle,
      handlers: [
        defineHandler(fail, async (data) => {
          throw thrown[data.message]; // what a careless handler does
        }),
      ],
    });
    try {
      const expected: Record<string, RegExp> = {
        null: /^The handler threw a non-Error value: null$/,
        undefined: /^The handler threw a non-Error value: undefined$/,
        string: /^a plain string$/,
        number: /^The handler threw a non-Error value: 7$/,
      };
      for (const [kind, reason] of Object.entries(expected)) {
        // A thrown null or undefined made BullMQ's own failure handling throw: the job stayed
        // "active" (to run again once its lock expired); a string was stored as the reason "null".
        // Listening before the enqueue: the failure must not come before the wait for it.
        const gaveUp = nextEvent(runtime.events, 'job.failed', (job, _err, final) => (job.data as { message?: string }).message === kind && final, `${kind}: the final failure`, 5000);
        const ref = await client.enqueue('fail', { message: kind }, { attempts: 2 });
        const [job, err] = await gaveUp;
        assert.equal(job.id, ref.id);
        assert.match(err.message, reason);
        const info = (await client.getJob(ref))!;
        assert.equal(info.state, 'failed', kind);
        assert.equal(info.attemptsMade, 2, `${kind}: retried by policy`);
        assert.match(info.failedReason ?? '', reason);
      }
    } finally {
      await lifecycle.shutdown();
    }
  });
});

describe('worker runtime: cancels', () => {
  it('a cancel heard just before the job reaches the processor still cancels it (it ran to its end)', async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    const config = testConfig(env);
    const runtime = await startWorkerRuntime({ config, logger: silentLogger, lifecycle, handlers: [sleepHandler] });
    try {
      // The queue paused, the job waits; the cancel comes first, as when BullMQ had marked the job
      // active in Redis (the API then sends it) but had not handed it to the processor yet.
      await client.pauseQueue('batch');
      const ref = await client.enqueue('sleep', { ms: 60_000 });
      const message: CancelMessage = { queue: 'batch', id: ref.id, actor: 'early-bird' };
      await center.redis.client.publish(cancelChannel(config), JSON.stringify(message));
      const failed = nextEvent(runtime.events, 'job.failed', (job) => job.id === ref.id, 'the cancelled job to fail', 15_000);
      await client.resumeQueue('batch');
      const [, err] = await failed;
      assert.match(err.message, /Cancelled by early-bird/);
      assert.equal((await client.getJob(ref))?.attemptsMade, 1, 'not retried');
    } finally {
      await lifecycle.shutdown();
    }
  });
  it('cancels the right job when two queues run jobs with the same id in one process', async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    const started: string[] = [];
    // Both wait for their signal: the one cancelled must fail "Cancelled by", the other run on.
    const waitForAbort = (queue: string) => async (_data: unknown, ctx: { signal: AbortSignal }) => {
      started.push(queue);
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      return 'aborted';
    };
    const runtime = await startWorkerRuntime({
      config: testConfig({ ...env, WORKER_CONCURRENCY: '2', SHUTDOWN_TIMEOUT_MS: '500' }),
      logger: silentLogger,
      lifecycle,
      handlers: [defineHandler(fail, waitForAbort('default')), defineHandler(sleep, waitForAbort('batch'))],
    });
    try {
      // A caller's own job id (an order number) is unique per queue only.
      const a = await client.enqueue('fail', { message: 'x' }, { jobId: 'order-42', attempts: 1 });
      await waitFor(async () => started.includes('default'), 'the default job to start');
      const b = await client.enqueue('sleep', { ms: 60_000 }, { jobId: 'order-42', attempts: 1 });
      await waitFor(async () => started.includes('batch'), 'the batch job to start');
      const failed = nextEvent(runtime.events, 'job.failed', (job) => job.queueName === 'default' && job.id === a.id, 'the cancelled default job to fail');
      const answer = await client.cancelJob(a, 'tester');
      const [, err] = await failed;
      assert.match(err.message, /Cancelled by tester/);
      assert.equal(answer.state, 'failed');
      assert.equal(await state(client, b), 'active', 'the other queue\'s job runs on');
    } finally {
      await lifecycle.shutdown();
    }
  });
});

describe('worker runtime: what handlers return', () => {
  it('completes a job whose handler (plain JavaScript) returns a value instead of a promise', async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    // TypeScript requires a promise; a JavaScript handler may return the value itself.
    const syncHandler = defineHandler(fail, ((data: { message: string }) => ({ echoed: data.message })) as unknown as (data: { message: string }) => Promise<unknown>);
    await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [syncHandler] });
    try {
      const ref = await client.enqueue('fail', { message: 'sync' }, { attempts: 1 });
      const done = await waitFor(async () => {
        const info = await client.getJob(ref);
        return info?.state === 'completed' || info?.state === 'failed' ? info : undefined;
      }, 'the job to finish');
      assert.equal(done.state, 'completed', done.failedReason ?? '');
      assert.deepEqual(done.returnValue, { echoed: 'sync' });
    } finally {
      await lifecycle.shutdown();
    }
  });
});

describe('worker runtime: job logs', () => {
  it("bounds each ctx.log line copied to the job's log, a plain message as much as one with fields", async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    // At info (lines below the logger's level are not copied), written nowhere.
    const logger = pino({ level: 'info' }, new Writable({ write: (_chunk, _enc, done) => done() }));
    const runtime = await startWorkerRuntime({
      config: testConfig(env),
      logger,
      lifecycle,
      handlers: [
        defineHandler(fail, async (data, ctx) => {
          ctx.log.info(data.message.repeat(100_000)); // was copied whole: 100,000 characters in Redis
          ctx.log.info({ big: data.message.repeat(100_000) }, 'fields');
          return 'logged';
        }),
      ],
    });
    try {
      const done = nextEvent(runtime.events, 'job.completed', () => true, 'the logging job');
      const ref = await client.enqueue('fail', { message: 'x' });
      await done;
      // Log lines are written fire-and-forget: wait for both.
      const logs = await waitFor(async () => {
        const l = await client.jobLogs(ref);
        return l.total === 2 ? l : undefined;
      }, 'both log lines');
      for (const line of logs.lines) assert.ok(line.length <= 2000, `a line of ${line.length} characters`);
      assert.match(logs.lines[0]!, /^INFO x{100}/);
    } finally {
      await lifecycle.shutdown();
    }
  });
});

describe('worker runtime: a run let go of', () => {
  it("a timed-out handler that ignores its signal no longer writes the job's progress or log", async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    const logger = pino({ level: 'info' }, new Writable({ write: (_chunk, _enc, done) => done() }));
    let zombieWrote: () => void = () => {};
    const zombie = new Promise<void>((r) => (zombieWrote = r));
    const slowFail = { ...fail, defaults: { ...fail.defaults, timeoutMs: 200, attempts: 1 } };
    const runtime = await startWorkerRuntime({
      config: testConfig(env),
      logger,
      lifecycle,
      handlers: [
        defineHandler(slowFail, async (_data, ctx) => {
          await ctx.progress(10);
          ctx.log.info('started');
          await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
          // Ignores the abort and goes on, after the attempt was recorded as failed.
          await new Promise((r) => setTimeout(r, 100));
          await ctx.progress(99);
          ctx.log.info('after the timeout');
          zombieWrote();
          return 'too late';
        }),
      ],
    });
    try {
      const failed = nextEvent(runtime.events, 'job.failed', (_job, _err, final) => final, 'the timeout');
      const ref = await client.enqueue('fail', { message: 'x' }, { attempts: 1 });
      await failed;
      await zombie;
      // Its progress write was awaited; its log line is fire-and-forget: let it land before reading.
      await new Promise((r) => setTimeout(r, 100));
      const info = (await client.getJob(ref))!;
      assert.equal(info.state, 'failed');
      assert.equal(info.progress, 10, 'the progress the run reached before it was let go of');
      assert.deepEqual((await client.jobLogs(ref)).lines, ['INFO started']);
    } finally {
      await lifecycle.shutdown();
    }
  });
});
