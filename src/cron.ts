import { CronExpressionParser } from 'cron-parser';
import { nextTick, nextTicks, type DstPolicy } from './cron/timetable.js';
import { transitions, type Transition } from './cron/time-zone.js';
import { ValidationError } from './errors.js';

export type { DstPolicy } from './cron/timetable.js';

/*
 * Cron helpers. Patterns are what BullMQ's Job Schedulers take (cron-parser 5): five fields
 * (minute hour day-of-month month day-of-week) or six with seconds first. The builders only ever
 * emit patterns whose period is exact; for periods that do not divide the hour or the minute, use
 * an interval schedule (`{ every: ms }`) instead, which the error messages say.
 */

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type Weekday = (typeof WEEKDAYS)[number] | 0 | 1 | 2 | 3 | 4 | 5 | 6;

function check(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`Expected ${name} to be an integer from ${min} to ${max}, got ${value}`, [
      { field: name, message: `${name} must be an integer from ${min} to ${max}` },
    ]);
  }
}

function divisorOf60(name: string, n: number, unit: string): void {
  check(name, n, 1, 59);
  if (60 % n !== 0) {
    throw new ValidationError(
      `Every ${n} ${unit} does not divide the ${unit === 'seconds' ? 'minute' : 'hour'} evenly, so a cron ` +
        `pattern would drift at the boundary; use one of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, or an interval ` +
        `schedule ({ every: ${n * (unit === 'seconds' ? 1000 : 60_000)} })`,
      [{ field: name, message: `${name} must divide 60` }],
    );
  }
}

function time(hour: number, minute: number): void {
  check('hour', hour, 0, 23);
  check('minute', minute, 0, 59);
}

/** Builders for common patterns; each returns a cron string usable in a schedule. */
export const Cron = {
  /** Every `n` seconds (n divides 60). `everySeconds(1)` → `* * * * * *` */
  everySeconds(n = 1): string {
    divisorOf60('seconds', n, 'seconds');
    return n === 1 ? '* * * * * *' : `*/${n} * * * * *`;
  },
  /** Every `n` minutes at second 0 (n divides 60). */
  everyMinutes(n = 1): string {
    divisorOf60('minutes', n, 'minutes');
    return n === 1 ? '* * * * *' : `*/${n} * * * *`;
  },
  /** Every hour at `minute`. */
  hourly(minute = 0): string {
    check('minute', minute, 0, 59);
    return `${minute} * * * *`;
  },
  /** Every day at hour:minute (in the schedule's time zone). */
  daily(hour = 0, minute = 0): string {
    time(hour, minute);
    return `${minute} ${hour} * * *`;
  },
  /** Every week on `weekday` (0 or 'sunday' … 6 or 'saturday') at hour:minute. */
  weekly(weekday: Weekday, hour = 0, minute = 0): string {
    const day = typeof weekday === 'number' ? weekday : WEEKDAYS.indexOf(weekday);
    check('weekday', day, 0, 6);
    time(hour, minute);
    return `${minute} ${hour} * * ${day}`;
  },
  /** Every month on `day` (1-31, or 'last') at hour:minute. Months without that day are skipped. */
  monthly(day: number | 'last' = 1, hour = 0, minute = 0): string {
    if (day !== 'last') check('day', day, 1, 31);
    time(hour, minute);
    return `${minute} ${hour} ${day === 'last' ? 'L' : day} * *`;
  },
  /** Every year on month (1-12) / day at hour:minute. */
  yearly(month = 1, day = 1, hour = 0, minute = 0): string {
    check('month', month, 1, 12);
    check('day', day, 1, 31);
    time(hour, minute);
    return `${minute} ${hour} ${day} ${month} *`;
  },
} as const;

/**
 * Checks an IANA time zone name such as `Europe/Paris`.
 * @throws ValidationError naming the field `tz`.
 */
export function validateTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new ValidationError(`Unknown time zone ${JSON.stringify(tz)}: use an IANA name such as "Europe/Paris" or "UTC"`, [
      { field: 'tz', message: `tz must be an IANA time zone name, got ${JSON.stringify(tz)}` },
    ]);
  }
}

function invalid(pattern: unknown, why: string): ValidationError {
  const shown = JSON.stringify(pattern)?.slice(0, 120) ?? String(pattern);
  return new ValidationError(
    `Invalid cron pattern ${shown}: ${why}. Expected 5 fields (minute hour day month weekday) or 6 with seconds ` +
      `first, e.g. "*/5 * * * *" or "0 30 9 * * 1-5"`,
    [{ field: 'cron', message: `cron ${why}` }],
  );
}

/**
 * Checks a DST policy object (`{ gap?: 'shift' | 'skip', overlap?: 'once' | 'both' }`).
 * @throws ValidationError naming `dst.gap` or `dst.overlap`.
 */
export function validateDstPolicy(dst: unknown): asserts dst is DstPolicy | undefined {
  if (dst === undefined) return;
  if (typeof dst !== 'object' || dst === null || Array.isArray(dst)) {
    throw new ValidationError('dst must be an object such as { "gap": "skip", "overlap": "both" }', [
      { field: 'dst', message: 'dst must be an object with optional gap and overlap' },
    ]);
  }
  const { gap, overlap, ...rest } = dst as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) {
    throw new ValidationError(`Unknown dst option ${JSON.stringify(extra)}: dst takes gap and overlap`, [
      { field: `dst.${extra}`, message: 'dst takes only gap and overlap' },
    ]);
  }
  if (gap !== undefined && gap !== 'shift' && gap !== 'skip') {
    throw new ValidationError('dst.gap must be "shift" (default: run a skipped local time at the end of the gap) or "skip"', [
      { field: 'dst.gap', message: 'dst.gap must be "shift" or "skip"' },
    ]);
  }
  if (overlap !== undefined && overlap !== 'once' && overlap !== 'both') {
    throw new ValidationError('dst.overlap must be "once" (default: run a repeated local time at its first occurrence) or "both"', [
      { field: 'dst.overlap', message: 'dst.overlap must be "once" or "both"' },
    ]);
  }
}

/** How far ahead a pattern is tried across its zone's DST changes before it is accepted. */
const LOOK_AHEAD_MS = 2 * 366 * 24 * 3600 * 1000;

/**
 * Validates a cron pattern (and time zone) the way the center will run it: it must parse, fire at
 * least once, and keep firing across every DST change of its zone in the next two years.
 * @throws ValidationError with field `cron` (or `tz`, `dst.*`) and what is allowed.
 */
export function validateCron(pattern: string, tz?: string, options: { dst?: DstPolicy; hashSeed?: string; now?: Date } = {}): void {
  if (typeof pattern !== 'string') throw invalid(pattern, 'must be a string');
  const trimmed = pattern.trim();
  if (trimmed.length === 0 || trimmed.length > 256) throw invalid(pattern, 'must be 1-256 characters');
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw invalid(pattern, `has ${fields.length} field${fields.length === 1 ? '' : 's'}`);
  }
  if (tz !== undefined) validateTimeZone(tz);
  validateDstPolicy(options.dst);
  try {
    CronExpressionParser.parse(trimmed, { tz: 'UTC', ...(options.hashSeed ? { hashSeed: options.hashSeed } : {}) }).next();
  } catch (err) {
    throw invalid(pattern, (err as Error).message.replace(/\.$/, ''));
  }
  const now = (options.now ?? new Date()).getTime();
  const timetable = { tz, dst: options.dst, hashSeed: options.hashSeed };
  const probes = [now, ...transitionsAhead(tz, now).map((t) => t.at - 24 * 3600 * 1000)];
  for (const at of probes) {
    let next: number | undefined;
    try {
      next = nextTick(trimmed, at, timetable);
    } catch (err) {
      throw invalid(pattern, `cannot be computed after ${new Date(at).toISOString()} (${(err as Error).message})`);
    }
    if (next === undefined && at === now) throw invalid(pattern, 'never fires');
  }
}

const transitionCache = new Map<string, Transition[]>();

/** The DST changes of `tz` in the next two years (cached per zone and day). */
function transitionsAhead(tz: string | undefined, now: number): Transition[] {
  const zone = tz ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const day = Math.floor(now / (24 * 3600 * 1000));
  const key = `${zone}@${day}`;
  let found = transitionCache.get(key);
  if (!found) {
    found = transitions(zone, day * 24 * 3600 * 1000, day * 24 * 3600 * 1000 + LOOK_AHEAD_MS);
    if (transitionCache.size > 500) transitionCache.clear();
    transitionCache.set(key, found);
  }
  return found;
}

/**
 * The next `n` run times of `pattern` after `from`, in time zone `tz` (default: the process's),
 * under the DST policy and `H` seed a schedule would use: exactly the instants a schedule runs at.
 */
export function nextRuns(
  pattern: string,
  n = 5,
  tz?: string,
  from: Date = new Date(),
  options: { dst?: DstPolicy; hashSeed?: string } = {},
): Date[] {
  validateCron(pattern, tz, options);
  check('n', n, 1, 1000);
  return nextTicks(pattern.trim(), n, from.getTime(), { tz, ...options }).map((t) => new Date(t));
}
