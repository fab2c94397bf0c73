import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { JobCenterClient } from '../src/client.js';
import { loadConfig } from '../src/config.js';
import { jobs } from '../contracts/index.js';
import { Lifecycle } from '../src/lifecycle.js';
import { createLogger } from '../src/logger.js';
import { startRedisServer } from '../src/redis/redis-server.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import sleepHandler from '../workers/handlers/sleep.js';

/*
 * `node --import tsx bench/sweep-cpu.ts [pending] [seconds] [warm-up seconds]`: what pending continuations cost an
 * idle worker. Registers `pending` continuations on parents delayed by a day (so none finishes),
 * then measures the worker process's CPU and redis-server's CPU over `seconds` with the default
 * sweep interval (5 s). Uses only the client's public API, so the same file runs on older commits
 * (the "before" of docs/BENCHMARKS.md).
 */
const pending = Number(process.argv[2] ?? 10_000);
const seconds = Number(process.argv[3] ?? 30);
const warmupMs = Number(process.argv[4] ?? 40) * 1000;
const dir = mkdtempSync(join(tmpdir(), 'jc-sweep-'));
const redis = await startRedisServer({ dir, appendonly: false, args: ['--hz', '10'] });
const env = { REDIS_URL: redis.url, QUEUE_PREFIX: 'sw', LOG_LEVEL: 'warn', WORKER_QUEUES: 'batch' };
const config = loadConfig(env, { contracts: jobs });
const logger = createLogger(config, 'sweep-cpu');
const client = new JobCenterClient(config, logger);
const admin = new Redis(redis.url);
const redisCpu = async (): Promise<number> => {
  const info = await admin.info('cpu');
  return ['used_cpu_sys', 'used_cpu_user'].reduce((s, k) => s + Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0), 0);
};
try {
  await client.ready();
  let next = 0;
  const lane = async () => {
    while (next < pending) {
      next++;
      const parent = await client.enqueue('sleep', { ms: 0 }, { delay: 86_400_000 });
      await client.continueWith(parent, 'hello-world', {});
    }
  };
  await Promise.all(Array.from({ length: 20 }, lane));
  const lifecycle = new Lifecycle(logger);
  await startWorkerRuntime({ config, logger, lifecycle, handlers: [sleepHandler] });
  // Let the first checks of the new registrations (2 s after each) pass: steady state is measured.
  await new Promise((r) => setTimeout(r, warmupMs));
  const cpu0 = process.cpuUsage();
  const r0 = await redisCpu();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const r1 = await redisCpu();
  const workerPct = ((cpu.user + cpu.system) / 1e6 / seconds) * 100;
  const redisPct = ((r1 - r0) / seconds) * 100;
  process.stdout.write(`${JSON.stringify({ pending, seconds, workerCpuPercent: +workerPct.toFixed(2), redisCpuPercent: +redisPct.toFixed(2) })}\n`);
  await lifecycle.shutdown();
} finally {
  await client.close();
  admin.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
