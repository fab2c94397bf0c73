import type { Job } from 'bullmq';
import { nextTick, ticksBetween } from '../cron/timetable.js';
import type { CenterRepeatOptions } from '../cron/repeat-strategy.js';
import { CATCH_UP_PREFIX } from '../jobs/center-ids.js';
import { jobOptions } from '../jobs/options.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues.js';
import type { BeforeRunResult, JobHook } from '../runtime/hooks.js';
import type { Schedules } from '../schedules.js';
import { DEFAULT_MAX_CATCH_UP, type MisfirePolicy } from '../schemas/schedule-semantics.js';
import { graceOf } from './health.js';
import { runOf, tickOf, type RunHistory, type RunRecord } from './history.js';

/*
 * Misfire policies (docs/SCHEDULES.md). BullMQ keeps one pending job per schedule: after an outage
 * that job (tick T0) runs late, and BullMQ schedules the next tick after "now", so the ticks in
 * between are gone. This hook decides, when the T0 run starts, what the schedule's policy says:
 * - once: nothing to do (BullMQ's behaviour: one late run);
 * - skip: T0 is late if it starts more than max(1 s, min(grace, period)) after its tick; then it
 *   does not run, and it and the ticks in between are recorded as `missed`;
 * - all: the ticks in between are added as catch-up jobs (`catchup-<tick>-<schedule>`, so adding
 *   them twice adds them once), oldest first, each run with its own tick in `ctx.tick`; at most
 *   `maxCatchUp` late runs, the most recent ticks, the older ones recorded as `missed`.
 * An on-time tick costs a comparison; a late one a cached policy read, and for skip/all one
 * scheduler read and one write.
 */

/** A run that starts within this of its tick is never a misfire, whatever the period. */
export const MIN_MISFIRE_TOLERANCE_MS = 1000;
const POLICY_TTL_MS = 5000;
/** Ticks examined after an outage, whatever maxCatchUp says (a per-second schedule down for days). */
const MAX_TICKS_EXAMINED = 10_000;

const CATCH_UP_RE = /^catchup-(\d+)-(.+)$/;

/** The schedule and tick of a catch-up job, from its id. */
export function catchUpOf(job: Pick<Job, 'id'>): { tick: number; schedule: string } | undefined {
  const m = CATCH_UP_RE.exec(String(job.id ?? ''));
  return m ? { tick: Number(m[1]), schedule: m[2]! } : undefined;
}

/** The tick a run of a schedule was made for (a catch-up run: its own missed tick); undefined for other jobs. */
export function scheduledTickOf(job: Job): Date | undefined {
  if (job.repeatJobKey) return new Date(tickOf(job));
  const c = String(job.id ?? '').startsWith(CATCH_UP_PREFIX) ? catchUpOf(job) : undefined;
  return c ? new Date(c.tick) : undefined;
}

interface Policy {
  misfire: MisfirePolicy;
  maxCatchUp: number;
  grace: number | undefined;
}

function missedRun(tick: number, reason: string): RunRecord {
  return {
    tick: new Date(tick).toISOString(),
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    latenessMs: null,
    outcome: 'missed',
    error: reason,
    attempts: 0,
  };
}

/** The ticks strictly between `from` and `until`, oldest first (at most `max`). */
function ticksIn(repeat: CenterRepeatOptions, from: number, until: number, max: number): number[] {
  if (repeat.every) {
    const out: number[] = [];
    for (let t = from + repeat.every; t < until && out.length < max; t += repeat.every) out.push(t);
    return out;
  }
  if (!repeat.pattern) return [];
  return ticksBetween(repeat.pattern, from, until - 1, max, { tz: repeat.tz, dst: repeat.dst, hashSeed: repeat.hashSeed });
}

function periodAt(repeat: CenterRepeatOptions, tick: number): number {
  if (repeat.every) return repeat.every;
  if (!repeat.pattern) return 0;
  const next = nextTick(repeat.pattern, tick, { tz: repeat.tz, dst: repeat.dst, hashSeed: repeat.hashSeed });
  return next === undefined ? Infinity : next - tick;
}

export function misfireHook(options: { queues: Queues; schedules: Schedules; history: RunHistory; logger: Logger }): JobHook {
  const { queues, schedules, history, logger } = options;
  const cache = new Map<string, { policy: Policy; until: number }>();

  async function policyOf(id: string): Promise<Policy> {
    const hit = cache.get(id);
    if (hit && hit.until > Date.now()) return hit.policy;
    const meta = await schedules.meta(id);
    const policy = { misfire: meta?.misfire ?? 'once', maxCatchUp: meta?.maxCatchUp ?? DEFAULT_MAX_CATCH_UP, grace: meta?.grace };
    cache.set(id, { policy, until: Date.now() + POLICY_TTL_MS });
    return policy;
  }

  async function recordMissed(queue: string, id: string, ticks: readonly number[], reason: string): Promise<void> {
    // Only the most recent ones fit in the history anyway.
    const recent = ticks.slice(-history.limit);
    for (const t of recent) await history.record(queue, id, missedRun(t, reason));
  }

  async function beforeRun(job: Job): Promise<BeforeRunResult | undefined> {
    const id = job.repeatJobKey!;
    const repeat = (job.opts as { repeat?: CenterRepeatOptions }).repeat ?? {};
    const tick = tickOf(job);
    const now = Date.now();
    // BullMQ computes an interval schedule's next tick without its endDate: never run past it.
    const end = repeat.endDate !== undefined ? new Date(repeat.endDate).getTime() : undefined;
    if (end !== undefined && tick > end) {
      return { skip: { returnValue: { skipped: true, reason: `tick ${new Date(tick).toISOString()} is after the schedule's endDate` } } };
    }
    // On time, or started before (it did start on time): a retry, a run restarted after its worker
    // died, or one a stopping worker handed back (SHUTDOWN_TIMEOUT_MS, a deploy). `attemptsStarted`
    // counts all three; attemptsMade and stalledCounter missed the last, which, taken as a misfire,
    // was dropped as missed (skip), or caught up again the ticks after it that had already run (all).
    if (now - tick <= MIN_MISFIRE_TOLERANCE_MS || job.attemptsStarted > 1) return undefined;
    const policy = await policyOf(id);
    if (policy.misfire === 'once') return undefined;
    const queue = queues.get(job.queueName);
    // BullMQ scheduled the next tick when this job was taken: the ticks before it are the missed ones.
    // When the window ended during the outage (endDate passed), BullMQ schedules no next tick and
    // leaves `next` at this very tick: the ticks missed are then the ones up to endDate, which
    // were inside the window (they were lost, neither caught up nor recorded as missed). A
    // schedule that ran its `limit` has no tick left at all. Never past endDate, whatever `next` is.
    const next = Number((await queue.getJobScheduler(id))?.next ?? now);
    const limitReached = repeat.limit !== undefined && (repeat.count ?? 0) >= repeat.limit;
    const until = next > tick ? next : end !== undefined && !limitReached ? end + 1 : tick;
    const between = ticksIn(repeat, tick, Math.min(until, now + 1, end !== undefined ? end + 1 : Infinity), MAX_TICKS_EXAMINED);

    if (policy.misfire === 'skip') {
      const tolerance = Math.max(
        MIN_MISFIRE_TOLERANCE_MS,
        Math.min(graceOf({ every: repeat.every, cron: repeat.pattern, tz: repeat.tz, dst: repeat.dst, hashSeed: repeat.hashSeed, grace: policy.grace }), periodAt(repeat, tick)),
      );
      if (now - tick <= tolerance && between.length === 0) return undefined;
      const reason = `misfire skip: no worker ran this tick on time (started ${now - tick} ms late, tolerance ${tolerance} ms)`;
      await recordMissed(job.queueName, id, between, 'misfire skip: no worker ran at this tick');
      logger.info({ schedule: id, tick: new Date(tick).toISOString(), missed: between.length + 1 }, 'Missed ticks skipped (misfire skip)');
      return { skip: { returnValue: { skipped: true, missed: true, reason } } };
    }

    // all, with a limit: BullMQ adds its own ticks up to the limit whatever catch-ups ran, so
    // catch-ups would run beyond it (a limit of 3 ran 12 times after a 9 s outage). The missed
    // ticks are recorded as missed instead; this one runs, counted by BullMQ.
    if (repeat.limit !== undefined) {
      if (between.length > 0) {
        await recordMissed(job.queueName, id, between, 'misfire all: a schedule with a limit does not catch up (catch-ups would run beyond its limit)');
        logger.info({ schedule: id, tick: new Date(tick).toISOString(), missed: between.length }, 'Missed ticks not caught up: the schedule has a limit (misfire all)');
      }
      return undefined;
    }

    // all: every missed tick runs, at most maxCatchUp of them (the most recent).
    const all = [tick, ...between];
    const keep = all.slice(-policy.maxCatchUp);
    const dropped = all.slice(0, all.length - keep.length);
    const catchUps = keep.filter((t) => t !== tick);
    if (catchUps.length > 0) {
      const opts = jobOptions(queues.catalog.contractFor(job.name));
      await queue.addBulk(catchUps.map((t) => ({ name: job.name, data: job.data, opts: { ...opts, jobId: `${CATCH_UP_PREFIX}${t}-${id}` } })));
    }
    const reason = `misfire all: more than maxCatchUp (${policy.maxCatchUp}) ticks were missed; the most recent ran`;
    await recordMissed(job.queueName, id, dropped.filter((t) => t !== tick), reason);
    logger.info({ schedule: id, tick: new Date(tick).toISOString(), catchUp: catchUps.length, dropped: dropped.length }, 'Catching up missed ticks (misfire all)');
    if (dropped[0] === tick) return { skip: { returnValue: { skipped: true, missed: true, reason } } };
    return undefined;
  }

  /**
   * A catch-up run whose schedule was paused or removed after it was queued does not run: pause
   * and removal take the scheduler and its pending tick, but the catch-ups already queued (up to
   * maxCatchUp of them) went on firing for as long as the backlog lasted. Read as the run starts
   * (not cached): one read per catch-up run, none for other jobs.
   */
  async function catchUpGate(job: Job): Promise<BeforeRunResult | undefined> {
    const c = catchUpOf(job);
    if (!c) return undefined;
    const meta = await schedules.meta(c.schedule);
    if (meta && !meta.paused) return undefined;
    const reason = `schedule ${c.schedule} was ${meta ? 'paused' : 'removed'} after this catch-up run was queued`;
    return { skip: { returnValue: { skipped: true, withdrawn: true, reason } } };
  }

  return {
    name: 'misfire',
    applies: (job) => Boolean(job.repeatJobKey) || String(job.id).startsWith(CATCH_UP_PREFIX),
    beforeRun(job) {
      return job.repeatJobKey ? beforeRun(job) : catchUpGate(job);
    },
    afterFinish(job, outcome) {
      // Catch-up runs are not BullMQ scheduler jobs: record them in their schedule's history here.
      const c = job.repeatJobKey || !outcome.final ? undefined : catchUpOf(job);
      if (!c) return undefined;
      // Withdrawn by a pause or removal: not a run (a removed schedule's history is gone; writing
      // it again would leave a history without schedule).
      if (outcome.state === 'completed' && (outcome.returnValue as { withdrawn?: unknown } | null)?.withdrawn === true) return undefined;
      const run = outcome.state === 'completed' ? runOf(job, 'completed') : runOf(job, 'failed', outcome.failedReason);
      const started = job.processedOn ?? null;
      return history
        .record(job.queueName, c.schedule, { ...run, tick: new Date(c.tick).toISOString(), latenessMs: started ? started - c.tick : null })
        .catch((err: Error) => logger.warn({ schedule: c.schedule, err: err.message }, 'Could not record a catch-up run'));
    },
  };
}
