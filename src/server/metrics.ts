import type { Queue } from 'bullmq';
import { Router } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { withDeadline } from '../deadline.js';
import type { ServerDeps } from './app.js';
import { ScheduleMetrics, type ScheduleMetricsSnapshot } from './schedule-metrics.js';
import type { CenterService } from './service.js';
import { requireTokenOrBoardLogin, type AuthFailures } from './auth.js';

/** Job states reported per queue (BullMQ 6's JobState; a paused queue's jobs count as waiting). */
export const JOB_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children'] as const;

interface QueueSnapshot {
  /** The labels naming the queue: the logical queue, and its shard when the queue is sharded. */
  labels: { queue: string; shard?: string };
  counts: Record<string, number>;
  completedTotal: number;
  failedTotal: number;
  paused: boolean;
  /** Undefined when Redis refuses CLIENT LIST (some managed services do). */
  workers?: number;
}

async function snapshot(queue: Queue, labels: QueueSnapshot['labels']): Promise<QueueSnapshot> {
  const [counts, completed, failed, paused, workers] = await Promise.all([
    queue.getJobCounts(...JOB_STATES),
    queue.getMetrics('completed', 0, 0),
    queue.getMetrics('failed', 0, 0),
    queue.isPaused(),
    queue.getWorkersCount().catch(() => undefined),
  ]);
  return { labels, counts, completedTotal: completed.meta.count, failedTotal: failed.meta.count, paused, workers };
}

function answerWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  return withDeadline(promise, ms, () => new Error(`Redis did not answer within ${ms} ms`));
}

/**
 * The center's Prometheus metrics, read from Redis on every scrape (so every server replica
 * reports the same numbers). Completed/failed totals are BullMQ's metrics counters, which count
 * only while workers run with the `metrics` option.
 */
export class CenterMetrics {
  readonly registry = new Registry();
  readonly #up = new Gauge({ name: 'jobcenter_redis_up', help: '1 when Redis answered this scrape, 0 otherwise', registers: [this.registry] });
  readonly #jobs = new Gauge({
    name: 'jobcenter_queue_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['queue', 'shard', 'state'],
    registers: [this.registry],
  });
  readonly #completed = new Counter({
    name: 'jobcenter_jobs_completed_total',
    help: 'Jobs completed since BullMQ metrics began (BullMQ metrics counter)',
    labelNames: ['queue', 'shard'],
    registers: [this.registry],
  });
  readonly #failed = new Counter({
    name: 'jobcenter_jobs_failed_total',
    help: 'Jobs failed for good since BullMQ metrics began (BullMQ metrics counter)',
    labelNames: ['queue', 'shard'],
    registers: [this.registry],
  });
  readonly #workers = new Gauge({
    name: 'jobcenter_queue_workers',
    help: 'Worker connections consuming the queue (BullMQ getWorkersCount)',
    labelNames: ['queue', 'shard'],
    registers: [this.registry],
  });
  readonly #paused = new Gauge({
    name: 'jobcenter_queue_paused',
    help: '1 when the queue is paused',
    labelNames: ['queue', 'shard'],
    registers: [this.registry],
  });

  readonly #schedules = new ScheduleMetrics(this.registry);

  /**
   * @param queues every BullMQ queue, each with its labels: a sharded queue's shards share the
   *   logical `queue` label and differ by `shard` (sum by queue for the logical total); unsharded
   *   queues have no `shard` label.
   */
  constructor(
    readonly queues: () => { queue: Queue; labels: QueueSnapshot['labels'] }[],
    readonly deadlineMs = 5000,
    /** Schedules (their last run and health) and job timings; none when absent. */
    readonly service?: Pick<CenterService, 'recurring' | 'jobTimings'>,
  ) {
    // The process's own CPU, memory, event loop lag and GC (process_*, nodejs_*).
    collectDefaultMetrics({ register: this.registry });
  }

  /** Prometheus text exposition (version 0.0.4) of the current state. */
  async render(): Promise<string> {
    const queues = this.queues();
    const recurring = this.service?.recurring;
    const service = this.service;
    let read: [QueueSnapshot[], ScheduleMetricsSnapshot] | undefined;
    try {
      read = await answerWithin(
        Promise.all([
          Promise.all(queues.map((q) => snapshot(q.queue, q.labels))),
          this.#schedules.read({
            queues,
            schedules: recurring && {
              list: () => recurring.list(),
              lastSuccessOf: async (s) => (await recurring.runs(s.id)).find((r) => r.outcome === 'completed'),
            },
            timings: service ? (q) => service.jobTimings(q) : undefined,
          }),
        ]),
        this.deadlineMs,
      );
    } catch {
      read = undefined;
    }
    // Everything is set at once, after every read: a scrape that failed shows no stale series, and
    // a concurrent scrape never sees another's half-updated families.
    const [snaps, timing] = read ?? [undefined, undefined];
    for (const m of [this.#jobs, this.#completed, this.#failed, this.#workers, this.#paused]) m.reset();
    this.#schedules.apply(timing);
    this.#up.set(snaps ? 1 : 0);
    for (const s of snaps ?? []) {
      for (const state of JOB_STATES) this.#jobs.set({ ...s.labels, state }, s.counts[state] ?? 0);
      this.#completed.inc(s.labels, s.completedTotal);
      this.#failed.inc(s.labels, s.failedTotal);
      this.#paused.set(s.labels, s.paused ? 1 : 0);
      if (s.workers !== undefined) this.#workers.set(s.labels, s.workers);
    }
    return this.registry.metrics();
  }
}

/**
 * `GET /metrics`: Prometheus text, for `Authorization: Bearer <API_TOKEN>` or board credentials
 * (admin or viewer); 401 otherwise. Redis being down is reported as `jobcenter_redis_up 0`.
 */
export function metricsRouter(deps: ServerDeps, failures: AuthFailures): Router {
  const router = Router();
  const { service } = deps;
  const metrics = new CenterMetrics(() =>
    service.bullQueues().map((queue) => {
      const { queue: logical, shard, shards } = service.queueShard(queue);
      return { queue, labels: shards > 1 ? { queue: logical, shard: String(shard) } : { queue: logical } };
    }),
    5000,
    service,
  );
  router.use(...requireTokenOrBoardLogin(deps.config, failures));
  router.get('/', async (_req, res) => {
    const text = await metrics.render();
    res.set('Cache-Control', 'no-store').type(metrics.registry.contentType).send(text);
  });
  return router;
}
