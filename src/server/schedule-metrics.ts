import type { Queue } from 'bullmq';
import { Gauge, type Metric, type Registry } from 'prom-client';
import { TIMING_BUCKETS, TIMING_NAMES, type HistogramTotals, type TimingName } from '../metrics/job-timings.js';
import type { ScheduleInfo } from '../schemas/recurring.js';
import type { RunRecord } from '../schemas/schedule-health.js';
import { HEALTH_STATES } from '../schedules/health.js';
import { dueAt } from '../jobs/due.js';

/**
 * A Prometheus histogram whose cumulative totals are kept elsewhere (in Redis, by the workers) and
 * only exposed here. prom-client's Histogram can only `observe` one value at a time, so this is a
 * metric object of the shape its registry reads (`get()`), registered with a cast.
 */
class TotalsHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  totals = new Map<string, HistogramTotals>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string>; value: number }[] }> {
    const values = [...this.totals].flatMap(([queue, t]) => [
      ...TIMING_BUCKETS.map((le, i) => ({ metricName: `${this.name}_bucket`, labels: { le: String(le), queue }, value: t.buckets[i]! })),
      { metricName: `${this.name}_bucket`, labels: { le: '+Inf', queue }, value: t.count },
      { metricName: `${this.name}_sum`, labels: { queue }, value: t.sum },
      { metricName: `${this.name}_count`, labels: { queue }, value: t.count },
    ]);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.totals = new Map();
  }
}

/**
 * Schedule and queue timing metrics, read from Redis at scrape time: per schedule its last
 * success, last duration, lateness and health; per queue the age of the oldest waiting job and
 * histograms of job duration and wait (start − ready) over every job the workers finished
 * (counted by the workers, src/metrics/job-timings.ts).
 */
export class ScheduleMetrics {
  readonly #lastSuccess: Gauge;
  readonly #lastDuration: Gauge;
  readonly #lateness: Gauge;
  readonly #health: Gauge;
  readonly #oldest: Gauge;
  readonly #timings: Record<TimingName, TotalsHistogram>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#lastSuccess = new Gauge({
      name: 'jobcenter_schedule_last_success_timestamp_seconds',
      help: 'When the last successful run of the schedule finished (Unix seconds); absent before the first',
      labelNames: ['schedule', 'queue'],
      registers,
    });
    this.#lastDuration = new Gauge({
      name: 'jobcenter_schedule_last_duration_seconds',
      help: 'How long the last run of the schedule took',
      labelNames: ['schedule', 'queue'],
      registers,
    });
    this.#lateness = new Gauge({
      name: 'jobcenter_schedule_lateness_seconds',
      help: 'How late the last run of the schedule started after its tick',
      labelNames: ['schedule', 'queue'],
      registers,
    });
    this.#health = new Gauge({
      name: 'jobcenter_schedule_health',
      help: 'The health of the schedule: 1 for its current state, 0 for the others',
      labelNames: ['schedule', 'queue', 'state'],
      registers,
    });
    this.#oldest = new Gauge({
      name: 'jobcenter_queue_oldest_waiting_age_seconds',
      help: 'Age of the oldest waiting job of the queue (0 when none waits); a sharded queue per shard',
      labelNames: ['queue', 'shard'],
      registers,
    });
    this.#timings = {
      duration: new TotalsHistogram('jobcenter_job_duration_seconds', 'Job run time (finished − started) of every job that finished, by its final attempt', registry),
      wait: new TotalsHistogram(
        'jobcenter_job_wait_seconds',
        'Time a job waited to start once it was due (started − created − its delay), every job that finished on its first attempt',
        registry,
      ),
    };
  }

  /**
   * Reads what the gauges and histograms show, without touching them: per schedule its health and
   * last run (`lastSuccessOf` finds the last completed run of a schedule whose last run was not a
   * success), per BullMQ queue the age of its oldest waiting job, per logical queue the workers'
   * timing totals. {@link apply} then sets them all at once.
   */
  async read(input: {
    schedules?: { list: () => Promise<readonly ScheduleInfo[]>; lastSuccessOf: (s: ScheduleInfo) => Promise<RunRecord | undefined> };
    queues: readonly { queue: Queue; labels: QueueLabels }[];
    timings?: (queue: string) => Promise<Record<TimingName, HistogramTotals>>;
  }): Promise<ScheduleMetricsSnapshot> {
    const { timings, schedules: source } = input;
    const logical = [...new Set(input.queues.map((q) => q.labels.queue))];
    const [schedules, oldest, totals] = await Promise.all([
      source
        ? source.list().then((list) =>
            Promise.all(
              list.map(async (s) => {
                const last = s.lastRun;
                const success = !last ? undefined : last.outcome === 'completed' ? last : await source.lastSuccessOf(s);
                return { info: s, success };
              }),
            ),
          )
        : Promise.resolve([]),
      Promise.all(input.queues.map(async (q) => ({ labels: q.labels, ageSeconds: await oldestWaitingAge(q.queue) }))),
      timings ? Promise.all(logical.map(async (q) => [q, await timings(q)] as const)) : Promise.resolve([]),
    ]);
    return { schedules, oldest, timings: totals };
  }

  /**
   * Replaces every series of these families with `snapshot`'s, synchronously (a concurrent scrape
   * never sees them half set); without one (Redis did not answer) they are all absent.
   */
  apply(snapshot: ScheduleMetricsSnapshot | undefined): void {
    for (const g of [this.#lastSuccess, this.#lastDuration, this.#lateness, this.#health, this.#oldest]) g.reset();
    for (const name of TIMING_NAMES) this.#timings[name].reset();
    if (!snapshot) return;
    for (const { info: s, success } of snapshot.schedules) {
      const labels = { schedule: s.id, queue: s.queue };
      for (const state of HEALTH_STATES) this.#health.set({ ...labels, state }, s.health === state ? 1 : 0);
      const last = s.lastRun;
      if (!last) continue;
      if (last.durationMs !== null) this.#lastDuration.set(labels, last.durationMs / 1000);
      if (last.latenessMs !== null) this.#lateness.set(labels, last.latenessMs / 1000);
      if (success?.finishedAt) this.#lastSuccess.set(labels, Date.parse(success.finishedAt) / 1000);
    }
    // Labelled like the other per-queue metrics: the logical queue, plus `shard` for a shard.
    for (const { labels, ageSeconds } of snapshot.oldest) this.#oldest.set(labels, ageSeconds);
    for (const name of TIMING_NAMES) this.#timings[name].totals = new Map(snapshot.timings.map(([q, t]) => [q, t[name]]));
  }
}

/** The labels naming a BullMQ queue: its logical queue, and its shard when the queue is sharded. */
export type QueueLabels = { queue: string; shard?: string };

/** What {@link ScheduleMetrics.read} read, for {@link ScheduleMetrics.apply}. */
export interface ScheduleMetricsSnapshot {
  schedules: { info: ScheduleInfo; success: RunRecord | undefined }[];
  oldest: { labels: QueueLabels; ageSeconds: number }[];
  timings: (readonly [string, Record<TimingName, HistogramTotals>])[];
}

/** The age of the oldest waiting job of one BullMQ queue (a shard of a sharded queue), in seconds. */
async function oldestWaitingAge(queue: Queue): Promise<number> {
  const [first] = await queue.getJobs(['waiting'], 0, 0, true);
  return first ? Math.max(0, Date.now() - dueAt(first)) / 1000 : 0;
}
