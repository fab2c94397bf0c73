import type { Queue } from 'bullmq';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { ScheduleInfo } from '../schemas/recurring.js';
import type { RunRecord } from '../schemas/schedule-health.js';
import { HEALTH_STATES } from '../schedules/health.js';

/** Finished jobs read per queue and scrape for the duration and wait histograms. */
const SAMPLE = 200;
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Schedule and queue timing metrics, read from Redis at scrape time so the workers pay nothing
 * per job: per schedule its last success, last duration, lateness and health; per queue the age
 * of the oldest waiting job and histograms of job duration and wait (start − ready), observed
 * from the jobs that finished since the previous scrape (at most SAMPLE per queue and scrape).
 */
export class ScheduleMetrics {
  readonly #lastSuccess: Gauge;
  readonly #lastDuration: Gauge;
  readonly #lateness: Gauge;
  readonly #health: Gauge;
  readonly #oldest: Gauge;
  readonly #duration: Histogram;
  readonly #wait: Histogram;
  /** Per queue: the newest finish time already observed, so a job is observed once per server. */
  readonly #seen = new Map<string, number>();

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
      help: 'Age of the oldest waiting job of the queue (0 when none waits)',
      labelNames: ['queue'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'jobcenter_job_duration_seconds',
      help: `Job run time (finished − started), of the jobs that finished since the previous scrape (at most ${SAMPLE} per queue per scrape)`,
      labelNames: ['queue'],
      buckets: BUCKETS,
      registers,
    });
    this.#wait = new Histogram({
      name: 'jobcenter_job_wait_seconds',
      help: `Time a job waited to start once it was due (started − created − delay), same sample as jobcenter_job_duration_seconds`,
      labelNames: ['queue'],
      buckets: BUCKETS,
      registers,
    });
  }

  /**
   * Updates the gauges from `schedules`; `lastSuccessOf` finds the last completed run of a
   * schedule whose last run was not a success (its history).
   */
  async collectSchedules(schedules: readonly ScheduleInfo[], lastSuccessOf: (s: ScheduleInfo) => Promise<RunRecord | undefined>): Promise<void> {
    for (const g of [this.#lastSuccess, this.#lastDuration, this.#lateness, this.#health]) g.reset();
    for (const s of schedules) {
      const labels = { schedule: s.id, queue: s.queue };
      for (const state of HEALTH_STATES) this.#health.set({ ...labels, state }, s.health === state ? 1 : 0);
      const last = s.lastRun;
      if (!last) continue;
      if (last.durationMs !== null) this.#lastDuration.set(labels, last.durationMs / 1000);
      if (last.latenessMs !== null) this.#lateness.set(labels, last.latenessMs / 1000);
      const success = last.outcome === 'completed' ? last : await lastSuccessOf(s);
      if (success?.finishedAt) this.#lastSuccess.set(labels, Date.parse(success.finishedAt) / 1000);
    }
  }

  async collectQueue(queue: Queue): Promise<void> {
    const now = Date.now();
    const [oldest, finished] = await Promise.all([
      queue.getJobs(['waiting'], 0, 0, true),
      queue.getJobs(['completed', 'failed'], 0, SAMPLE - 1, false),
    ]);
    const first = oldest[0];
    this.#oldest.set({ queue: queue.name }, first ? Math.max(0, now - (first.timestamp + (first.delay ?? 0))) / 1000 : 0);
    const since = this.#seen.get(queue.name) ?? now - 60_000;
    let newest = since;
    for (const job of finished) {
      if (!job?.finishedOn || job.finishedOn <= since || !job.processedOn) continue;
      newest = Math.max(newest, job.finishedOn);
      this.#duration.observe({ queue: queue.name }, Math.max(0, job.finishedOn - job.processedOn) / 1000);
      this.#wait.observe({ queue: queue.name }, Math.max(0, job.processedOn - job.timestamp - (job.delay ?? 0)) / 1000);
    }
    this.#seen.set(queue.name, newest);
  }
}
