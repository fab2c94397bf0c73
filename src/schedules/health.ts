import { nextTick, type DstPolicy } from '../cron/timetable.js';
import type { Health, RunRecord } from '../schemas/schedule-health.js';

/**
 * A schedule's health (schemas/schedule-health.ts), worst first: paused, ended (never overdue),
 * overdue (no run started within tick + grace), failing, late, pending (never ran), ok.
 */
export type { Health };

/** Every health state, for metrics that report one series per state. */
export const HEALTH_STATES: readonly Health[] = ['ok', 'late', 'failing', 'overdue', 'paused', 'pending', 'ended'];

/** A run that starts more than this after its tick makes the schedule `late`. */
export const LATE_MS = 1000;
/** The smallest default grace: a minute, whatever the period. */
export const MIN_DEFAULT_GRACE_MS = 60_000;

/** What the period and default grace of a schedule are computed from. */
export interface PeriodInput {
  cron?: string;
  every?: number;
  tz?: string;
  /** The schedule's DST policy, so that the period is that of the ticks it really has. */
  dst?: DstPolicy;
  /** Seed of `H` fields: the schedule id. */
  hashSeed?: string;
}

/**
 * The period of a schedule in ms: `every`, or the gap between a cron pattern's next two ticks,
 * from the center's timetable (its DST policy and `H` seed), the ticks that really run.
 */
export function periodOf(s: PeriodInput, from = new Date()): number | undefined {
  if (s.every) return s.every;
  if (!s.cron) return undefined;
  try {
    const options = { tz: s.tz, dst: s.dst, hashSeed: s.hashSeed };
    const a = nextTick(s.cron, from.getTime(), options);
    const b = a === undefined ? undefined : nextTick(s.cron, a, options);
    return a === undefined || b === undefined ? undefined : b - a;
  } catch {
    return undefined;
  }
}

/** The grace before a tick that did not start counts as overdue: `grace`, else max(60 s, 10 % of the period). */
export function graceOf(s: PeriodInput & { grace?: number | null }): number {
  if (s.grace !== undefined && s.grace !== null) return s.grace;
  const period = periodOf(s) ?? 0;
  return Math.max(MIN_DEFAULT_GRACE_MS, Math.round(period * 0.1));
}

/** What health is computed from. */
export interface HealthInput {
  paused: boolean;
  ended: boolean;
  /** The pending tick (ms), or null when BullMQ has none. */
  next: number | null;
  graceMs: number;
  lastRun: RunRecord | null;
}

/** Whether the pending tick should have started by `now`. */
export function isOverdue(s: Pick<HealthInput, 'next' | 'graceMs'>, now = Date.now()): boolean {
  return s.next !== null && now > s.next + s.graceMs;
}

export function healthOf(s: HealthInput, now = Date.now()): Health {
  if (s.paused) return 'paused';
  if (s.ended) return 'ended';
  if (isOverdue(s, now)) return 'overdue';
  const last = s.lastRun;
  if (!last) return 'pending';
  if (last.outcome === 'failed') return 'failing';
  if (last.outcome === 'missed' || (last.latenessMs ?? 0) > LATE_MS) return 'late';
  return 'ok';
}
