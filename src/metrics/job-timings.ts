import type { Job } from 'bullmq';
import type { Config } from '../config.js';
import { dueAt } from '../jobs/due.js';
import type { Logger } from '../logger.js';
import { centerKey, type RedisClient } from '../redis/connection.js';

/*
 * Job duration and wait-time histograms (`jobcenter_job_duration_seconds`,
 * `jobcenter_job_wait_seconds` on /metrics), counted by the workers for every job that finishes.
 *
 * Why the workers count and Redis keeps the totals: a worker sees every job end without asking
 * Redis anything, while a server reading finished jobs at scrape time sees only a sample (BullMQ
 * keeps a bounded list, and a fast queue finishes thousands between two scrapes). Each worker
 * adds its counts to one hash per logical queue every `WORKER_TIMINGS_FLUSH_MS` (one MULTI per
 * queue with news; none per job), so every server replica exposes the same cumulative totals. A
 * SIGKILLed worker loses at most its last interval of observations; a clean shutdown flushes.
 */

/** Upper bounds (seconds) of the histogram buckets, shared by the workers and the servers. */
export const TIMING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] as const;

export const TIMING_NAMES = ['duration', 'wait'] as const;
export type TimingName = (typeof TIMING_NAMES)[number];

/** Cumulative totals of one histogram, as Prometheus exposes them. */
export interface HistogramTotals {
  /** Observations ≤ each bound of TIMING_BUCKETS (cumulative), in that order. */
  readonly buckets: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/** The totals hash of one logical queue (no hash tag: a single-key MULTI fits any slot). */
function timingsKey(config: Config, queue: string): string {
  return centerKey(config, 'timings', queue);
}

/** Index of the first bucket whose bound is ≥ seconds; TIMING_BUCKETS.length for +Inf. */
function bucketOf(seconds: number): number {
  let i = 0;
  while (i < TIMING_BUCKETS.length && seconds > TIMING_BUCKETS[i]!) i++;
  return i;
}

/** What one worker observed for one queue since its last flush. */
class Pending {
  /** Per name: counts per bucket (not cumulative; the last slot is +Inf). */
  readonly counts: Record<TimingName, number[]> = { duration: emptyBuckets(), wait: emptyBuckets() };
  readonly sums: Record<TimingName, number> = { duration: 0, wait: 0 };
}

const emptyBuckets = (): number[] => new Array<number>(TIMING_BUCKETS.length + 1).fill(0);

/** A worker process's recorder: `observe` per finished job (in memory), a timer flushes to Redis. */
export class JobTimings {
  #pending = new Map<string, Pending>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.#timer = setInterval(() => void this.flush(), config.worker.timingsFlushMs);
    this.#timer.unref();
  }

  /**
   * Counts a job's final outcome under its logical queue: run time (finished − started) and, for a
   * job that ran once, its wait (started − when it became due). Skipped when the job lacks its timestamps.
   */
  observe(queue: string, job: Job): void {
    const started = job.processedOn;
    if (!started) return;
    let p = this.#pending.get(queue);
    if (!p) this.#pending.set(queue, (p = new Pending()));
    // Per job on the worker's hot path: two bucket searches and four additions, nothing else.
    const duration = Math.max(0, (job.finishedOn ?? Date.now()) - started) / 1000;
    p.counts.duration[bucketOf(duration)]!++;
    p.sums.duration += duration;
    // A retry's wait would count its earlier attempts and backoff: only a first attempt's is a wait.
    if ((job.attemptsStarted ?? 1) > 1) return;
    const wait = Math.max(0, started - dueAt(job)) / 1000;
    p.counts.wait[bucketOf(wait)]!++;
    p.sums.wait += wait;
  }

  /** Adds what was observed since the last flush to Redis; a failed write is kept for the next. */
  async flush(): Promise<void> {
    const pending = this.#pending;
    if (pending.size === 0) return;
    this.#pending = new Map();
    await Promise.all(
      [...pending].map(async ([queue, p]) => {
        const key = timingsKey(this.config, queue);
        const multi = this.redis.multi();
        for (const name of TIMING_NAMES) {
          p.counts[name].forEach((n, i) => {
            if (n > 0) multi.hincrby(key, `${name}:${i < TIMING_BUCKETS.length ? TIMING_BUCKETS[i] : '+Inf'}`, n);
          });
          const count = p.counts[name].reduce((a, b) => a + b, 0);
          if (count > 0) multi.hincrby(key, `${name}:count`, count).hincrbyfloat(key, `${name}:sum`, p.sums[name]);
        }
        try {
          await multi.exec();
        } catch (err) {
          // Redis is away: keep the counts (merged with newer ones) for the next flush.
          this.#merge(queue, p);
          this.logger.debug({ queue, err: (err as Error).message }, 'Could not write job timings; will retry');
        }
      }),
    );
  }

  #merge(queue: string, old: Pending): void {
    const now = this.#pending.get(queue);
    if (!now) return void this.#pending.set(queue, old);
    for (const name of TIMING_NAMES) {
      old.counts[name].forEach((n, i) => (now.counts[name][i]! += n));
      now.sums[name] += old.sums[name];
    }
  }

  /** Stops the timer and flushes once more (a clean shutdown loses nothing). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}

/** The cumulative totals of `queue`'s histograms (zeros when nothing was recorded yet). */
export async function readJobTimings(redis: RedisClient, config: Config, queue: string): Promise<Record<TimingName, HistogramTotals>> {
  const raw = await redis.hgetall(timingsKey(config, queue));
  const totals = (name: TimingName): HistogramTotals => {
    let running = 0;
    const buckets = TIMING_BUCKETS.map((le) => (running += Number(raw[`${name}:${le}`] ?? 0)));
    return { buckets, count: Number(raw[`${name}:count`] ?? 0), sum: Number(raw[`${name}:sum`] ?? 0) };
  };
  return { duration: totals('duration'), wait: totals('wait') };
}
