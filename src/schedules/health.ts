import { CronExpressionParser } from 'cron-parser';
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

/** The period of a schedule in ms: `every`, or the gap between a cron pattern's next two runs. */
export function periodOf(s: { cron?: string; every?: number; tz?: string }, from = new Date()): number | undefined {
  if (s.every) return s.every;
  if (!s.cron) return undefined;
  try {
    const expr = CronExpressionParser.parse(s.cron, { tz: s.tz, currentDate: from });
    const a = expr.next().getTime();
    const b = expr.next().getTime();
    return b - a;
  } catch {
    return undefined;
  }
}

/** The grace before a tick that did not start counts as overdue: `grace`, else max(60 s, 10 % of the period). */
export function graceOf(s: { cron?: string; every?: number; tz?: string; grace?: number | null }): number {
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
