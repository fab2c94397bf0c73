import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UnavailableError } from '../src/errors.js';
import { testClient, type TestClient } from './support/center.js';
import { ProcessGroup } from './support/processes.js';
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
    const worker = group.start('worker', env);
    await worker.waitForMessage('Worker started', 30_000);
    const used = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
    await redis.client.config('SET', 'maxmemory', String(used + 256 * 1024));
    // Fill it: these adds are refused once memory runs out.
    let refused: UnavailableError | undefined;
    for (let i = 0; i < 2000 && !refused; i++) {
      try {
        await client.enqueue('sleep', { ms: 1, result: 'x'.repeat(1500) });
      } catch (err) {
        if (err instanceof UnavailableError) refused = err;
        else throw err;
      }
    }
    assert.ok(refused, 'an add was refused');
    assert.equal(refused.outcome, 'unknown');
    assert.match(refused.message, /out of memory/);
    assert.equal(typeof refused.jobId, 'string', 'the key to retry with');

    // The worker's next-job requests are refused now (its active slots are taken or it cannot take
    // more): a few seconds of that is a few log lines, not thousands.
    const oomRefusals = async () => Number(/errorstat_OOM:count=(\d+)/.exec(await redis.client.info('errorstats'))?.[1] ?? 0);
    const before = worker.lines.length;
    const refusedBefore = await oomRefusals();
    // A plain 3 s window (what is measured is how little happens in it).
    await new Promise((r) => setTimeout(r, 3000));
    // The window must have held refusals, or the checks below would hold for an idle worker too.
    assert.ok((await oomRefusals()) > refusedBefore || worker.lines.slice(before).some((l) => l.msg === 'Worker error'), 'the worker was refused in the window');
    const errors = worker.lines.slice(before).filter((l) => l.msg === 'Worker error');
    assert.ok(errors.length <= 10, `${errors.length} error lines in 3 s:\n${errors.slice(0, 3).map((l) => JSON.stringify(l)).join('\n')}`);
    const ops = Number(/instantaneous_ops_per_sec:(\d+)/.exec(await redis.client.info('stats'))![1]);
    assert.ok(ops < 500, `Redis is not spun: ${ops} ops/s`);
    assert.ok(worker.running, worker.output());
    await redis.client.config('SET', 'maxmemory', '0');
  });
});
