import type { Queue } from 'bullmq';
import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues.js';
import { centerKey } from '../redis/connection.js';
import { PENDING_STATES, Schedules, type ScheduleInfo } from '../schedules.js';
import { AuditLog } from '../server/audit.js';
import type { AlertType } from './alert.js';
import { AlertOutbox } from './delivery.js';
import { alertOf, Incidents, type Condition } from './incidents.js';
import { Lease } from '../redis/lease.js';
import { dueAt } from '../jobs/due.js';
import { isRedisUnavailable } from '../errors.js';

/** BullMQ adds a schedule's next tick right after its current one becomes active; allow it this long. */
const NEXT_TICK_SLACK_MS = 5000;
const FAILURE_WINDOW_MIN = 5;
const MIN_JOBS_FOR_RATE = 20;
const CHECK_ERROR_LOG_MS = 5 * 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Watches every schedule and queue and raises alerts. Every server and producer process runs
 * one, but only the holder of a Redis lease acts; when it dies, another takes over within one
 * DETECTOR_INTERVAL_MS. Each pass:
 * - repairs a schedule whose pending tick is gone (or whose next run lies in the past with no
 *   pending job) by re-creating it once from its stored definition: logged, audited, alerted;
 *   likewise one whose whole BullMQ scheduler is gone while the center keeps its definition;
 * - opens or closes incidents: schedule.failed, schedule.overdue, queue.backlog,
 *   queue.failure_rate, queue.no_workers (one alert when opened, one *.recovered when closed).
 */
export class Detector {
  readonly incidents: Incidents;
  readonly outbox: AlertOutbox;
  readonly lease: Lease;
  readonly #schedules: Schedules;
  readonly #audit: AuditLog;
  /** Schedules seen without their BullMQ scheduler, and when first: repaired when still so a pass later. */
  readonly #orphans = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly queues: Queues,
  ) {
    this.#schedules = new Schedules(queues);
    this.incidents = new Incidents(queues.redis, config);
    this.outbox = new AlertOutbox(config, queues.redis, logger);
    const interval = config.alerts.detectorIntervalMs;
    // The lease outlives a missed renewal or two, yet a dead holder's passes to another process
    // within one interval (ttl 0.6·i, tried every 0.2·i).
    this.lease = new Lease(queues.redis, centerKey(config, 'detector', 'lease'), Math.max(100, Math.round(interval * 0.6)));
    this.#audit = new AuditLog(logger);
  }

  #key(...parts: string[]): string {
    return centerKey(this.config, 'alerts', ...parts);
  }

  async #raise(c: Condition, message: string, details: Record<string, unknown>): Promise<void> {
    const incident = await this.incidents.open(c, message, details);
    if (!incident) return;
    this.logger.warn({ alert: incident.id, type: c.type, ...details }, `Alert: ${message}`);
    await this.outbox.send(alertOf(incident));
    await this.incidents.markNotified(incident);
  }

  async #clear(c: Condition): Promise<void> {
    const closed = await this.incidents.close(c, (incident) => this.outbox.send(alertOf(incident, true)));
    if (closed) this.logger.info({ alert: closed.id, type: c.type }, `Recovered: ${closed.message}`);
  }

  /**
   * The Redis server's clock, in ms: what every process shares. Judged by its own clock, a detector
   * running ahead would find every schedule overdue (a running-behind one, none in time).
   */
  async #now(): Promise<number> {
    const [seconds, micros] = await this.queues.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** One detection pass (the lease holder runs it every interval). */
  async pass(): Promise<void> {
    // Opening alerts a crashed holder recorded but may not have queued.
    for (const incident of await this.incidents.unnotified()) {
      await this.outbox.send(alertOf(incident));
      await this.incidents.markNotified(incident);
    }
    const now = await this.#now();
    const schedules = await this.#schedules.list(now);
    const repaired = new Set<string>();
    for (const s of schedules) {
      if (s.paused || s.health === 'ended' || !s.next) continue;
      await this.#isolated(`schedule ${s.id}`, async () => {
        const lost = await this.#lostTick(s, now);
        if (lost && (await this.#repair(s, lost))) repaired.add(s.id);
      });
    }
    const orphansRepaired = await this.#repairOrphans(schedules);
    for (const s of repaired.size > 0 || orphansRepaired ? await this.#schedules.list(now) : schedules) {
      await this.#isolated(`schedule ${s.id}`, () => this.#checkSchedule(s));
    }
    const known = new Set(schedules.map((s) => s.id));
    for (const incident of await this.incidents.allOpen()) {
      if (incident.schedule !== undefined && !known.has(incident.schedule)) {
        await this.#clear({ type: incident.type, schedule: incident.schedule });
      }
    }
    // The pass's one reading of the shared clock: a pass is far shorter than the ages it judges.
    for (const queue of this.queues.all()) await this.#isolated(`queue ${queue.name}`, () => this.#checkQueue(queue, now));
  }

  /** When each failing check was last logged: a check that fails every pass is logged every 5 min. */
  readonly #checkErrors = new Map<string, number>();

  /**
   * Runs one schedule's or queue's check so that its failure (something in Redis this code cannot
   * read) costs that check alone, not the alerts of every other schedule and queue. Redis itself
   * being away still ends the pass: every other check would fail the same way.
   */
  async #isolated(what: string, check: () => Promise<void>): Promise<void> {
    try {
      await check();
      this.#checkErrors.delete(what);
    } catch (err) {
      if (isRedisUnavailable(err)) throw err;
      const last = this.#checkErrors.get(what);
      if (last === undefined || Date.now() - last > CHECK_ERROR_LOG_MS) {
        this.#checkErrors.set(what, Date.now());
        this.logger.warn({ check: what, err: (err as Error).message }, 'A detector check failed; the other checks go on');
      }
    }
  }

  async #checkSchedule(s: ScheduleInfo): Promise<void> {
    const failed: Condition = { type: 'schedule.failed', schedule: s.id };
    if (s.lastRun?.outcome === 'failed') {
      await this.#raise(failed, `Schedule ${s.id} failed after ${s.lastRun.attempts} attempt(s): ${s.lastRun.error ?? 'no reason given'}`, {
        queue: s.queue,
        tick: s.lastRun.tick,
        error: s.lastRun.error,
        attempts: s.lastRun.attempts,
      });
    } else if (s.lastRun?.outcome === 'completed') {
      await this.#clear(failed);
    }
    const overdue: Condition = { type: 'schedule.overdue', schedule: s.id };
    if (s.health === 'overdue') {
      await this.#raise(overdue, `Schedule ${s.id} is overdue: its run due at ${s.next} has not started within ${s.grace} ms`, {
        queue: s.queue,
        tick: s.next,
        graceMs: s.grace,
        lastRun: s.lastRun,
      });
    } else {
      await this.#clear(overdue);
    }
  }

  /**
   * Re-creates schedules whose BullMQ scheduler vanished while the center keeps their definition.
   * Only once one was seen so in two passes: an upsert or removal in flight shows the same picture
   * for a moment (definition written, scheduler not yet; scheduler removed, definition not yet).
   * @returns whether any was repaired.
   */
  async #repairOrphans(listed: readonly ScheduleInfo[]): Promise<boolean> {
    const now = Date.now();
    const seen = new Set<string>();
    let any = false;
    for (const o of await this.#schedules.orphans(listed)) {
      seen.add(o.id);
      const first = this.#orphans.get(o.id);
      if (first === undefined) {
        this.#orphans.set(o.id, now);
        continue;
      }
      if (now - first < this.config.alerts.detectorIntervalMs) continue;
      this.#orphans.delete(o.id);
      let error: string | undefined;
      let after: ScheduleInfo | undefined;
      try {
        await this.#schedules.recreate(o.id);
        after = await this.#schedules.get(o.id);
      } catch (err) {
        error = (err as Error).message;
      }
      await this.#reportRepair({ id: o.id, queue: o.queue, lostTick: null }, 'its job scheduler is gone from Redis (the center kept its definition)', after?.next ?? null, error);
      any = true;
    }
    for (const id of this.#orphans.keys()) if (!seen.has(id)) this.#orphans.delete(id);
    return any;
  }

  /** Why a schedule's pending tick is lost, or undefined when it is not. */
  async #lostTick(s: ScheduleInfo, now: number): Promise<string | undefined> {
    // The schedule's own shard: `s.queue` names the logical queue.
    const queue = await this.#schedules.bullQueueOf(s.id);
    if (!queue) return undefined;
    const next = Date.parse(s.next!);
    const state = await queue.getJobState(`repeat:${s.id}:${next}`);
    if (PENDING_STATES.has(state)) return undefined;
    if (state !== 'unknown' && now - next < NEXT_TICK_SLACK_MS) return undefined;
    // Read again: the tick may have just run and moved on between the two reads.
    const again = await queue.getJobScheduler(s.id);
    if (!again || Number(again.next) !== next) return undefined;
    return state === 'unknown' ? 'its pending tick job is gone' : `its next run (${s.next}) lies in the past and no tick is pending (last tick ${state})`;
  }

  /** Re-creates a schedule's tick, once per lost tick. @returns whether it repaired. */
  async #repair(s: ScheduleInfo, why: string): Promise<boolean> {
    const once = await this.queues.redis.set(this.#key('repaired', s.id, String(Date.parse(s.next!))), '1', 'PX', 7 * 24 * 3600 * 1000, 'NX');
    if (once !== 'OK') return false;
    let error: string | undefined;
    try {
      if (!(await this.#schedules.recreate(s.id))) {
        // Made before the center kept definitions: rebuild it from what BullMQ still knows.
        const repeat = s.cron !== undefined ? { cron: s.cron, ...(s.tz ? { tz: s.tz } : {}) } : { every: s.every! };
        await this.#schedules.upsert({ id: s.id, repeat, name: s.name, data: s.data, overlap: s.overlap }, s.owner);
      }
    } catch (err) {
      error = (err as Error).message;
    }
    const after = await this.#schedules.get(s.id);
    return this.#reportRepair({ id: s.id, queue: s.queue, lostTick: s.next }, why, after?.next ?? null, error);
  }

  /** Logs, audits and alerts (schedule.repaired) one repair. @returns whether it left a next run. */
  async #reportRepair(s: { id: string; queue: string; lostTick: string | null }, why: string, next: string | null, error: string | undefined): Promise<boolean> {
    const healed = !error && next !== null && next !== s.lostTick;
    const message = healed
      ? `Schedule ${s.id} repaired: ${why}; next run ${next}`
      : `Schedule ${s.id} could not be repaired (${why}): ${error ?? 'no next run could be computed'}`;
    this.logger.warn({ schedule: s.id, queue: s.queue, lostTick: s.lostTick, next, error }, message);
    this.#audit.record({
      actor: 'detector',
      action: 'recurring.repair',
      schedule: s.id,
      queue: s.queue,
      result: healed ? 'ok' : 'error',
      detail: message.slice(0, 300),
    });
    const details = { queue: s.queue, lostTick: s.lostTick, reason: why, next, repaired: healed, ...(error ? { error } : {}) };
    const event = await this.incidents.event({ type: 'schedule.repaired', schedule: s.id }, message, details);
    await this.outbox.send(alertOf(event));
    return healed;
  }

  async #checkQueue(queue: Queue, now: number): Promise<void> {
    const { alerts } = this.config;
    const [counts, oldest, workers, completed, failed] = await Promise.all([
      queue.getJobCounts('waiting', 'prioritized'),
      queue.getJobs(['waiting'], 0, 0, true),
      queue.getWorkersCount().catch(() => undefined),
      queue.getMetrics('completed', 0, FAILURE_WINDOW_MIN - 1),
      queue.getMetrics('failed', 0, FAILURE_WINDOW_MIN - 1),
    ]);
    const on = (type: AlertType): Condition => ({ type, queue: queue.name });

    const first = oldest[0];
    const age = first ? now - dueAt(first) : 0;
    if (first && age > alerts.backlogAgeS * 1000) {
      await this.#raise(on('queue.backlog'), `Queue ${queue.name}: the oldest waiting job has waited ${Math.round(age / 1000)} s (limit ${alerts.backlogAgeS} s)`, {
        oldestJob: first.id,
        ageSeconds: Math.round(age / 1000),
        waiting: counts.waiting ?? 0,
      });
    } else {
      await this.#clear(on('queue.backlog'));
    }

    // BullMQ's per-minute counters. A minute's point is written only when a job finishes in a later
    // minute: `data[i]` counts the minute i+1 before that of `prevTS` (the last write), and the jobs
    // finished since (`count - prevCount`) all lie in the minute of `prevTS`. Minutes of the window
    // are the current one and the FAILURE_WINDOW_MIN - 1 before it.
    const recent = (m: { meta: { count: number; prevTS: number; prevCount: number }; data: number[] }) => {
      const last = Math.floor(Number(m.meta.prevTS) / 60_000);
      const first = Math.floor(now / 60_000) - FAILURE_WINDOW_MIN + 1;
      if (!m.meta.prevTS || last < first) return 0;
      let n = Number(m.meta.count) - Number(m.meta.prevCount);
      for (let i = 0; i < m.data.length && last - 1 - i >= first; i++) n += Number(m.data[i] || 0);
      return n;
    };
    const nFailed = recent(failed);
    const total = nFailed + recent(completed);
    const rate = total > 0 ? nFailed / total : 0;
    if (total >= MIN_JOBS_FOR_RATE && rate > alerts.failureRate) {
      await this.#raise(
        on('queue.failure_rate'),
        `Queue ${queue.name}: ${Math.round(rate * 100)} % of ${total} jobs failed over ${FAILURE_WINDOW_MIN} minutes (limit ${Math.round(alerts.failureRate * 100)} %)`,
        { failed: nFailed, total, rate, limit: alerts.failureRate },
      );
    } else if (total >= MIN_JOBS_FOR_RATE || total === 0) {
      await this.#clear(on('queue.failure_rate'));
    }

    if (workers === undefined) return; // CLIENT LIST refused: cannot tell
    const sinceKey = this.#key('no-workers-since', queue.name);
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
    if (waiting > 0 && workers === 0) {
      await this.queues.redis.set(sinceKey, String(now), 'NX');
      const since = Number(await this.queues.redis.get(sinceKey)) || now;
      if (now - since >= alerts.noWorkersS * 1000) {
        await this.#raise(on('queue.no_workers'), `Queue ${queue.name}: ${waiting} job(s) waiting and no worker connected since ${iso(since)}`, {
          waiting,
          since: iso(since),
        });
      }
    } else {
      await this.queues.redis.del(sinceKey);
      await this.#clear(on('queue.no_workers'));
    }
  }
}

/**
 * Runs a detector in this process (server, producer): it tries the lease every interval/5 and,
 * while holding it, runs a pass every interval (at once when it takes over). The lease is renewed
 * on that timer even while a pass runs: a pass longer than the lease must not let another
 * detector in beside it.
 */
export function startDetector(options: { config: Config; logger: Logger; lifecycle: Lifecycle; queues: Queues }): Detector {
  const { config, lifecycle } = options;
  const logger = options.logger.child({ component: 'detector' });
  const detector = new Detector(config, logger, options.queues);
  const interval = config.alerts.detectorIntervalMs;
  let lastPass = 0;
  let renewing = false;
  let passing = false;
  let lastError = 0;
  const failed = (err: unknown) => {
    if (Date.now() - lastError > 30_000) {
      lastError = Date.now();
      logger.warn({ err: (err as Error).message }, 'Detector pass failed; will retry');
    }
  };
  const pass = async () => {
    passing = true;
    try {
      lastPass = Date.now();
      await detector.pass();
    } catch (err) {
      failed(err);
    } finally {
      passing = false;
    }
  };
  const tick = async () => {
    // Not before the connection is up: a fail-fast connection would only fail the pass.
    if (renewing || lifecycle.stopping || options.queues.redis.status !== 'ready') return;
    renewing = true;
    try {
      const had = detector.lease.held;
      const held = await detector.lease.acquire();
      if (held && !had) logger.info({ owner: detector.lease.owner }, 'Detector lease taken: this process now watches schedules and queues');
      if (!held && had) logger.info('Detector lease lost to another process');
      if (held && !passing && !lifecycle.stopping && (!had || Date.now() - lastPass >= interval)) void pass();
    } catch (err) {
      failed(err);
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => void tick(), Math.max(50, Math.round(interval / 5)));
  timer.unref();
  // A failed ready (a database REDIS_URL selects that the server refused) stops the process itself.
  void options.queues.ready().then(() => tick(), () => {});
  lifecycle.add('detector', detector, async () => {
    clearInterval(timer);
    while (renewing || passing) await new Promise((r) => setTimeout(r, 20));
    await detector.lease.release().catch(() => {});
    await detector.outbox.close().catch(() => {});
  });
  return detector;
}
