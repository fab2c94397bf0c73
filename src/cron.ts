import { CronExpressionParser } from 'cron-parser';
import { ValidationError } from './errors.js';

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
 * Validates a cron pattern (and time zone) the way BullMQ will read it.
 * @throws ValidationError with field `cron` (or `tz`) and what is allowed.
 */
export function validateCron(pattern: string, tz?: string): void {
  if (typeof pattern !== 'string') throw invalid(pattern, 'must be a string');
  const trimmed = pattern.trim();
  if (trimmed.length === 0 || trimmed.length > 256) throw invalid(pattern, 'must be 1-256 characters');
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw invalid(pattern, `has ${fields.length} field${fields.length === 1 ? '' : 's'}`);
  }
  if (tz !== undefined) validateTimeZone(tz);
  try {
    CronExpressionParser.parse(trimmed, { tz }).next();
  } catch (err) {
    throw invalid(pattern, (err as Error).message.replace(/\.$/, ''));
  }
}

/** The next `n` run times of `pattern` after `from`, in time zone `tz` (default: the process's). */
export function nextRuns(pattern: string, n = 5, tz?: string, from: Date = new Date()): Date[] {
  validateCron(pattern, tz);
  check('n', n, 1, 1000);
  const expr = CronExpressionParser.parse(pattern.trim(), { tz, currentDate: from });
  return Array.from({ length: n }, () => expr.next().toDate());
}
