import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sleep as sleepContract } from '../contracts/index.js';
import { jobOptions } from '../src/jobs/options.js';
import { BeeProducer } from './bare-bee.js';
import type { WorkerChild } from './children.js';
import { order, waitUntil, type Bench, type SideKind } from './context.js';
import { now, type BenchData } from './protocol.js';
import { compare, median, round2, type Compared } from './stats.js';

/*
 * Processing throughput of no-op jobs. Each run pauses the side's queue, fills it with N jobs
 * (the same addBulk and job options for both sides: enqueue is measured elsewhere), resumes it and
 * times resume → last handler end, as stamped inside the worker processes.
 */
export interface ThroughputResult {
  c1: Compared;
  c10: Compared;
  c50: Compared;
  twoProcesses: Compared;
  /** Both sides running the shipped `sleep` handler's work at ms 0 (10 progress updates), c=10. */
  progressUpdates: Compared;
  /**
   * CPU per job (µs) in the worker process(es) and in redis-server, per configuration: which
   * resource a gap comes from. Redis CPU includes the (paused) bench parent's polling, a few calls.
   */
  cpuPerJobUs: Record<string, { worker: Compared; redis: Compared }>;
  /** Peak RSS of the worker process during the concurrency-50 runs, MB. */
  rssBusyMB: Compared;
  /** bee-queue reference, jobs/s (median of rounds). */
  bee: { c1: number; c10: number; c50: number; rounds: Record<string, number[]> };
  /** Client round trips to Redis per job (MONITOR, not counting commands run inside Lua scripts), c=10. */
  roundTrips: { center: number; bullmq: number; jobs: number; byCommand: Record<SideKind, Record<string, number>> };
}

const DATA: BenchData = { ms: 0 };
/** Both sides are filled with the options the center's contract gives `sleep` jobs. */
const FILL_OPTS = jobOptions(sleepContract);

async function fill(add: (items: BenchData[]) => Promise<unknown>, n: number): Promise<void> {
  for (let done = 0; done < n; done += 1000) {
    await add(Array.from({ length: Math.min(1000, n - done) }, () => DATA));
  }
}

async function waitDone(workers: readonly WorkerChild[], n: number, timeoutMs: number) {
  let counts = await Promise.all(workers.map((w) => w.counts()));
  await waitUntil(
    async () => {
      counts = await Promise.all(workers.map((w) => w.counts()));
      return counts.reduce((a, c) => a + c.count, 0) >= n;
    },
    `${n} jobs processed`,
    timeoutMs,
  );
  return counts;
}

async function redisCpuMs(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

interface RunResult {
  rate: number;
  rssPeak: number;
  /** CPU per job in the worker process(es) and in redis-server, µs. */
  workerCpuUs: number;
  redisCpuUs: number;
}

/** One timed run: jobs/s, the workers' peak RSS and CPU per job. */
async function drain(admin: Redis, queue: Queue, workers: readonly WorkerChild[], n: number): Promise<RunResult> {
  await queue.pause();
  await fill((items) => queue.addBulk(items.map((data) => ({ name: 'sleep', data, opts: FILL_OPTS }))), n);
  await Promise.all(workers.map((w) => w.reset()));
  const redisBefore = await redisCpuMs(admin);
  const t0 = now();
  await queue.resume();
  const counts = await waitDone(workers, n, 120_000 + n * 20);
  const redisAfter = await redisCpuMs(admin);
  const end = Math.max(...counts.map((c) => c.last));
  return {
    rate: n / ((end - t0) / 1000),
    rssPeak: Math.max(...counts.map((c) => c.rssPeak)),
    workerCpuUs: (counts.reduce((a, c) => a + c.cpuMs, 0) * 1000) / n,
    redisCpuUs: ((redisAfter - redisBefore) * 1000) / n,
  };
}


export async function countRoundTrips(
  admin: Redis,
  run: () => Promise<void>,
): Promise<{ total: number; byCommand: Record<string, number> }> {
  const monitor = await admin.monitor();
  const byCommand: Record<string, number> = {};
  let total = 0;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua') return;
    const cmd = String(args[0]).toLowerCase();
    byCommand[cmd] = (byCommand[cmd] ?? 0) + 1;
    total++;
  });
  try {
    await run();
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    monitor.disconnect();
  }
  return { total, byCommand };
}

/** Jobs of each side's warm-up drain (fewer when the measured drains are smaller). */
const WARM_UP_JOBS = 5000;

export async function benchThroughput(b: Bench): Promise<ThroughputResult> {
  const s = b.sizes;
  const { center, bullmq } = b.sides;
  const all = { center: [center.worker], bullmq: [bullmq.worker] } as Record<SideKind, WorkerChild[]>;
  const cpuPerJobUs: ThroughputResult['cpuPerJobUs'] = {};

  const runConfig = async (label: string, concurrency: number, n: number, workers = all) => {
    for (const w of [...workers.center, ...workers.bullmq]) await w.setConcurrency(concurrency);
    const rates: Record<SideKind, number[]> = { center: [], bullmq: [] };
    const rss: Record<SideKind, number[]> = { center: [], bullmq: [] };
    const workerCpu: Record<SideKind, number[]> = { center: [], bullmq: [] };
    const redisCpu: Record<SideKind, number[]> = { center: [], bullmq: [] };
    for (let round = 0; round < s.rounds; round++) {
      for (const kind of order(round)) {
        const r = await drain(b.admin, b.sides[kind].producer.queue, workers[kind], n);
        rates[kind].push(r.rate);
        rss[kind].push(r.rssPeak / 2 ** 20);
        workerCpu[kind].push(r.workerCpuUs);
        redisCpu[kind].push(r.redisCpuUs);
      }
    }
    b.log(`throughput ${label}: center ${round2(median(rates.center))} /s, bullmq ${round2(median(rates.bullmq))} /s`);
    cpuPerJobUs[label] = { worker: compare('µs/job', workerCpu.center, workerCpu.bullmq), redis: compare('µs/job', redisCpu.center, redisCpu.bullmq) };
    return { rate: compare('jobs/s', rates.center, rates.bullmq), rss: compare('MB', rss.center, rss.bullmq) };
  };

  // Warm-up run per side (JIT, script loading), not recorded. Long enough for V8 to optimize the
  // hot path (500 jobs were not: the center, with more code on it, then paid for its compilation
  // in the first measured rounds).
  const warmUp = async (workers: Record<SideKind, WorkerChild[]>) => {
    for (const kind of ['center', 'bullmq'] as const) await drain(b.admin, b.sides[kind].producer.queue, workers[kind], Math.min(WARM_UP_JOBS, s.throughputJobs));
  };
  await warmUp(all);

  const c1 = (await runConfig('c=1', 1, s.throughputJobs)).rate;
  const c10 = (await runConfig('c=10', 10, s.throughputJobs)).rate;
  const r50 = await runConfig('c=50', 50, s.throughputJobs);
  b.bareRateC10 = c10.bullmq;

  const second = {
    center: await b.spawn('center', 'center-2', center.prefix, 10),
    bullmq: await b.spawn('bullmq', 'bullmq-2', bullmq.prefix, 10),
  };
  const pairs = { center: [center.worker, second.center], bullmq: [bullmq.worker, second.bullmq] };
  // The second processes start cold: warmed up like the first ones were, or the two-process rows
  // measured their JIT compilation (worker CPU per job 1.13-1.28 of bare there, 1.03 at c=10).
  for (const w of [...pairs.center, ...pairs.bullmq]) await w.setConcurrency(10);
  await warmUp(pairs);
  const twoProcesses = (await runConfig('2 processes x c=10', 10, s.throughputJobs, pairs)).rate;
  await Promise.all([second.center.stop(), second.bullmq.stop()]);

  for (const side of [center, bullmq]) await side.worker.request({ type: 'progressMode', on: true });
  const progressUpdates = (await runConfig('progress updates c=10', 10, s.progressJobs)).rate;
  for (const side of [center, bullmq]) await side.worker.request({ type: 'progressMode', on: false });

  // Round trips per job, counted apart from the timed runs (MONITOR slows Redis down).
  const trips: Record<SideKind, { total: number; byCommand: Record<string, number> }> = {
    center: { total: 0, byCommand: {} },
    bullmq: { total: 0, byCommand: {} },
  };
  for (const kind of ['center', 'bullmq'] as const) {
    await b.sides[kind].worker.setConcurrency(10);
    const queue = b.sides[kind].producer.queue;
    await queue.pause();
    await fill((items) => queue.addBulk(items.map((data) => ({ name: 'sleep', data, opts: FILL_OPTS }))), s.roundTripJobs);
    await b.sides[kind].worker.reset();
    trips[kind] = await countRoundTrips(b.admin, async () => {
      await queue.resume();
      await waitDone([b.sides[kind].worker], s.roundTripJobs, 60_000);
    });
  }
  const perJob = (t: { total: number }) => round2(t.total / s.roundTripJobs);
  const byCommand = (t: { byCommand: Record<string, number> }) =>
    Object.fromEntries(Object.entries(t.byCommand).map(([k, v]) => [k, round2(v / s.roundTripJobs)]).sort((x, y) => Number(y[1]) - Number(x[1])));

  const bee = await benchBee(b);
  return {
    c1,
    c10,
    c50: r50.rate,
    twoProcesses,
    progressUpdates,
    cpuPerJobUs,
    rssBusyMB: r50.rss,
    bee,
    roundTrips: {
      center: perJob(trips.center),
      bullmq: perJob(trips.bullmq),
      jobs: s.roundTripJobs,
      byCommand: { center: byCommand(trips.center), bullmq: byCommand(trips.bullmq) },
    },
  };
}

/** bee-queue at concurrency 1, 10 and 50: fill, then start processing (bee-queue has no pause). */
async function benchBee(b: Bench): Promise<ThroughputResult['bee']> {
  const s = b.sizes;
  const prefix = 'bee';
  const worker = await b.spawn('bee', 'bee', prefix, 1);
  const producer = new BeeProducer(b.url, prefix);
  await producer.ready();
  const rounds: Record<string, number[]> = { c1: [], c10: [], c50: [] };
  try {
    for (const c of [1, 10, 50]) {
      for (let round = 0; round < s.rounds; round++) {
        await worker.request({ type: 'prepare', n: c });
        await fill((items) => producer.addBulk(items), s.beeJobs);
        await worker.reset();
        const t0 = now();
        await worker.request({ type: 'go' });
        const [counts] = await waitDone([worker], s.beeJobs, 120_000);
        rounds[`c${c}`]!.push(s.beeJobs / ((counts!.last - t0) / 1000));
      }
      b.log(`bee-queue c=${c}: ${round2(median(rounds[`c${c}`]!))} /s`);
    }
  } finally {
    await producer.close();
    await worker.stop();
  }
  return {
    c1: round2(median(rounds.c1!)),
    c10: round2(median(rounds.c10!)),
    c50: round2(median(rounds.c50!)),
    rounds: Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, v.map(round2)])),
  };
}
