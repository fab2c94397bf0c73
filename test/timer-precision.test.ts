import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import sleepHandler from '../workers/handlers/sleep.js';
import { silentLogger, testConfig } from './support/center.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Schedule precision depends on Redis's `hz`: the center's own Redis ships at 100; a worker on a
 * Redis at the default 10 warns once at start and says why; one where CONFIG is refused says it
 * could not check.
 */

const servers: TestRedis[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** Starts a worker runtime against `redis`, returns the messages it logged at warn/info. */
async function startupLog(redis: TestRedis): Promise<{ level: number; msg: string }[]> {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), WORKER_QUEUES: 'batch' };
  const lifecycle = new Lifecycle(silentLogger);
  await startWorkerRuntime({ config: testConfig(env), logger, lifecycle, handlers: [sleepHandler] });
  await lifecycle.shutdown();
  return lines;
}

describe('Redis timer precision', () => {
  it('the shipped redis-server runs at hz 100, and a worker on it does not warn', async () => {
    const redis = await startTestRedis({ appendonly: false });
    servers.push(redis);
    assert.deepEqual(await redis.client.config('GET', 'hz'), ['hz', '100']);
    const lines = await startupLog(redis);
    assert.ok(!lines.some((l) => /hz/.test(l.msg)), JSON.stringify(lines));
  });

  it('a worker on a default Redis (hz 10) warns once, saying how late and how to fix it', async () => {
    const redis = await startTestRedis({ appendonly: false, args: ['--hz', '10'] });
    servers.push(redis);
    const warned = (await startupLog(redis)).filter((l) => /Redis hz is/.test(l.msg));
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.level, 40);
    assert.match(warned[0]!.msg, /up to 100 ms late.*hz 100/);
  });

  it('a worker where CONFIG is refused says it could not check', async () => {
    const redis = await startTestRedis({ appendonly: false, args: ['--rename-command', 'CONFIG', ''] });
    servers.push(redis);
    const lines = await startupLog(redis);
    assert.ok(lines.some((l) => /Could not read Redis hz/.test(l.msg)), JSON.stringify(lines));
  });
});
