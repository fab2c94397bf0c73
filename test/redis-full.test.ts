import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UnavailableError } from '../src/errors.js';
import { testClient, type TestClient } from './support/center.js';
import { ProcessGroup, waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * A Redis out of memory under `noeviction` (what the center asks for) refuses writes. Enqueue then
 * answered 500 without the idempotency key, and a worker asked for its next job again at once,
 * thousands of times a second, logging each refusal.
 */

let redis: TestRedis;
let client: TestClient;
const group = new ProcessGroup({});
let env: Record<string, string>;

before(async () => {
  redis = await startTestRedis({ appendonly: false, args: ['--maxmemory-policy', 'noeviction'] });
  env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() };
  client = await testClient(env);
});
after(async () => {
  await group.stopAll();
  await client?.close();
  await redis?.stop();
});

describe('Redis out of memory (noeviction)', () => {
  it('enqueue answers UnavailableError with the outcome unknown and its jobId; a worker backs off and logs a bounded amount', async () => {
    // One job at a time, 20 ms each: the jobs that fill memory take the worker a couple of seconds.
    const worker = group.start('worker', { ...env, WORKER_CONCURRENCY: '1' });
    await worker.waitForMessage('Worker started', 30_000);
    // The queue is paused while memory fills, so the jobs that fill it wait: the worker then has work
    // it cannot take (when it ran them as they came, CI's worker kept up, sat idle and was never
    // refused, and the window below measured nothing).
    await client.pauseQueue('batch');
    const used = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
    await redis.client.config('SET', 'maxmemory', String(used + 256 * 1024));
    // Fill it: these adds are refused once memory runs out.
    let refused: UnavailableError | undefined;
    for (let i = 0; i < 2000 && !refused; i++) {
      try {
        await client.enqueue('sleep', { ms: 20, result: 'x'.repeat(1500) });
      } catch (err) {
        if (err instanceof UnavailableError) refused = err;
        else throw err;
      }
    }
    assert.ok(refused, 'an add was refused');
    assert.equal(refused.outcome, 'unknown');
    assert.match(refused.message, /out of memory/);
    assert.equal(typeof refused.jobId, 'string', 'the key to retry with');

    // Resume (a write, so with room for a moment) and let the worker get going, then leave no room at
    // all. Redis refuses a script at its first write that needs memory: for a worker in mid-stream
    // (it has just been handed a job, so it asks again at once rather than waiting on the queue's
    // marker) that is the RPOPLPUSH that takes the next waiting job (BullMQ's moveToActive). Those
    // refusals are what is counted: the bug asked again at once, dozens to thousands of times a
    // second, logging each; backing off asks about once a second.
    // Commands Redis refused, by command (a spinning worker's show here, in its own scripts too).
    const commandCalls = async (): Promise<Record<string, number>> =>
      Object.fromEntries([...(await redis.client.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=\d+,.*?rejected_calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    const fetchRefusals = async () => Number(/cmdstat_rpoplpush:.*rejected_calls=(\d+)/.exec(await redis.client.info('commandstats'))?.[1] ?? 0);
    const before = worker.lines.length;
    await redis.client.config('SET', 'maxmemory', '0');
    await client.resumeQueue('batch');
    await waitFor(async () => ((await client.queueSummary('batch')).counts.completed ?? 0) >= 2 || undefined, 'the worker taking jobs after the resume', 15_000, 20);
    const atFull = await fetchRefusals();
    await redis.client.config('SET', 'maxmemory', '1');
    await waitFor(async () => (await fetchRefusals()) > atFull || undefined, 'a refused job fetch', 15_000, 20);
    // A plain 3 s window after the first refusal (what is measured is how little happens in it).
    const inWindow = await fetchRefusals();
    const callsBefore = await commandCalls();
    await new Promise((r) => setTimeout(r, 3000));
    const callsAfter = await commandCalls();
    const refusals = (await fetchRefusals()) - inWindow;
    assert.ok(refusals >= 1, 'the worker asked again in the window (it was not left paused)');
    assert.ok(refusals <= 8, `${refusals} refused requests for a job in 3 s`);
    const errors = worker.lines.slice(before).filter((l) => l.msg === 'Worker error');
    assert.ok(errors.length >= 1, `the refusal was logged:\n${worker.output()}`);
    assert.ok(errors.length <= 10, `${errors.length} error lines in 3 s:\n${errors.slice(0, 3).map((l) => JSON.stringify(l)).join('\n')}`);
    const spent = Object.entries(callsAfter)
      .map(([cmd, n]) => [cmd, n - (callsBefore[cmd] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]);
    // Not Redis's total rate: a job that runs meanwhile is work, not a spin (a `sleep` job has its ten
    // progress writes refused, 50-80 HSETs in the window), and a job finishing adds dozens of commands
    // that a load-dependent sample (instantaneous_ops_per_sec) counted against the worker. The bug
    // was thousands of refusals a second.
    const rejected = spent.reduce((a, [, n]) => a + n, 0);
    assert.ok(rejected <= 300, `Redis is not spun with refused commands: ${rejected} in 3 s (${spent.slice(0, 8).map(([c, n]) => `${c} ${n}`).join(', ')})`);
    assert.ok(worker.running, worker.output());

    // With room again the worker takes the jobs that waited (it was not left paused).
    await redis.client.config('SET', 'maxmemory', '0');
    // (A job whose completion was refused stays active until its lock runs out: stalled, requeued.)
    await waitFor(async () => (await client.queueSummary('batch')).counts.waiting === 0 || undefined, 'the waiting jobs taken once memory was back', 30_000, 100);
  });
});
