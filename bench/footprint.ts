import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pool, usedMemory, type Bench, type SideKind } from './context.js';
import { now } from './protocol.js';
import { round2 } from './stats.js';
import { waitForOutput } from '../src/child-output.js';

/*
 * Redis memory (INFO used_memory deltas) of many delayed jobs and many schedules, put in the very
 * queues the workers consume so that the schedule-lateness run that follows sees them. Delayed jobs
 * are due in a week; schedules are cron patterns for a date months away, so none fires meanwhile.
 */
export interface StoreCost {
  count: number;
  /** Redis memory added, MB. */
  mb: number;
  bytesEach: number;
  /** Time to write them (client calls, 100 in flight for jobs, 50 for schedules), s. */
  seconds: number;
}

export interface FootprintResult {
  delayed: Record<SideKind, StoreCost>;
  schedules: Record<SideKind, StoreCost>;
}

async function measure(b: Bench, count: number, write: () => Promise<void>): Promise<StoreCost> {
  const before = await usedMemory(b.admin);
  const t0 = now();
  await write();
  const seconds = (now() - t0) / 1000;
  const after = await usedMemory(b.admin);
  return { count, mb: round2((after - before) / 2 ** 20), bytesEach: Math.round((after - before) / count), seconds: round2(seconds) };
}

export async function benchFootprint(b: Bench): Promise<FootprintResult> {
  const s = b.sizes;
  const week = 7 * 24 * 3600 * 1000;
  const month = ((new Date().getUTCMonth() + 6) % 12) + 1;
  const delayed = {} as Record<SideKind, StoreCost>;
  const schedules = {} as Record<SideKind, StoreCost>;
  for (const kind of ['center', 'bullmq'] as const) {
    const p = b.sides[kind].producer;
    delayed[kind] = await measure(b, s.footprintDelayed, () => pool(s.footprintDelayed, 100, (i) => p.add({ ms: 0 }, week + i)));
    b.log(`footprint: ${kind} ${s.footprintDelayed} delayed jobs = ${delayed[kind].mb} MB in ${delayed[kind].seconds} s`);
    schedules[kind] = await measure(b, s.footprintSchedules, () =>
      pool(s.footprintSchedules, 50, (i) =>
        p.upsertSchedule(`dormant-${i}`, `0 ${i % 60} ${Math.floor(i / 60) % 24} ${1 + (Math.floor(i / 1440) % 28)} ${month} *`),
      ),
    );
    b.log(`footprint: ${kind} ${s.footprintSchedules} schedules = ${schedules[kind].mb} MB in ${schedules[kind].seconds} s`);
  }
  return { delayed, schedules };
}

/**
 * Idle RSS (bytes) of the worker as shipped: `node dist/workers/main.js` (what `npm run build`
 * makes and the Docker image runs), or `tsx workers/main.ts` when the bench runs from source,
 * against the bench's Redis with a prefix of its own. Read from /proc 1 s after "Worker started",
 * the same delay as the harness workers' idle reading. The harness worker children carry the
 * bench's recorder and client too, so they idle higher than what users run.
 */
export async function shippedWorkerIdleRss(b: Bench, root: string, compiled: boolean): Promise<number> {
  const entry = compiled ? [join(root, 'dist', 'workers', 'main.js')] : ['--import', 'tsx', join(root, 'workers', 'main.ts')];
  const child = spawn(process.execPath, entry, {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: b.url, QUEUE_PREFIX: `shipped-${process.pid}`, LOG_FORMAT: 'json', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitForOutput(child, /"msg":"Worker started"/, 'the shipped worker', 60_000);
    child.stdout.resume();
    child.stderr.resume();
    await new Promise((r) => setTimeout(r, 1000));
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
    return kb * 1024;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}
