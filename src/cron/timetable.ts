import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { gapEnd, instantsOf, toLocal, transitions } from './time-zone.js';

/*
 * The one place where the center computes when a cron schedule fires. cron-parser only ever
 * sees UTC, where no clock jumps: it yields wall-clock times ("naive" local times), and this
 * file maps each to real instants in the schedule's zone under an explicit DST policy. Every
 * caller (nextRuns, the API's listing, BullMQ's repeatStrategy in queues and workers, misfire
 * catch-up) goes through `nextTick`, so what is listed is what runs.
 */

/**
 * What a cron schedule in a zone with daylight saving time does on the two nights a year when
 * wall-clock times are skipped or repeated.
 */
export interface DstPolicy {
  /**
   * A local time that does not exist (spring forward, e.g. 02:30 in Paris on the last Sunday of
   * March): `'shift'` runs it once at the first valid instant after it (the moment of the change,
   * 03:00 new time); `'skip'` does not run it that day.
   * @defaultValue 'shift'
   */
  readonly gap?: 'shift' | 'skip';
  /**
   * A local time that occurs twice (fall back, e.g. 02:30 in Paris on the last Sunday of
   * October): `'once'` runs it at its first occurrence only; `'both'` runs it at both.
   * @defaultValue 'once'
   */
  readonly overlap?: 'once' | 'both';
}

export interface TimetableOptions {
  /** IANA time zone; default: the process's zone (what BullMQ and cron-parser use). */
  readonly tz?: string;
  readonly dst?: DstPolicy;
  /** Seed for `H` fields: the schedule id, so the hashed values are the same everywhere. */
  readonly hashSeed?: string;
}

const processZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
/** Zones shift by at most a few hours: a fall-back that repeats times near `after` is this close. */
const NEAR = 4 * 3600 * 1000;
/** Wall-clock ticks examined per call before giving up (a pattern that only matches skipped times). */
const MAX_STEPS = 10_000;

const parsed = new Map<string, CronExpression>();

function expression(pattern: string, hashSeed: string | undefined, from: number): CronExpression {
  const key = `${hashSeed ?? ''}\u0000${pattern}`;
  let expr = parsed.get(key);
  if (!expr) {
    expr = CronExpressionParser.parse(pattern, { tz: 'UTC', currentDate: new Date(from), ...(hashSeed ? { hashSeed } : {}) });
    if (parsed.size > 1000) parsed.clear();
    parsed.set(key, expr);
  } else {
    expr.reset(new Date(from));
  }
  return expr;
}

/**
 * The first instant after `after` in the monotonic part of the timetable: each wall-clock tick at
 * its only (or first) occurrence, a skipped one at the end of the gap unless `gap: 'skip'`.
 */
function nextFirstOccurrence(pattern: string, after: number, tz: string, options: TimetableOptions): number | undefined {
  const expr = expression(pattern, options.hashSeed, toLocal(tz, after) - 1000);
  for (let step = 0; step < MAX_STEPS; step++) {
    const local = expr.next().getTime();
    const at = instantsOf(tz, local);
    let t: number | undefined = at[0];
    if (t === undefined && options.dst?.gap !== 'skip') t = gapEnd(tz, local);
    if (t !== undefined && t > after) return t;
  }
  return undefined;
}

/** The first second occurrence (after a fall-back) of a wall-clock tick, after `after`, if one is near. */
function nextSecondOccurrence(pattern: string, after: number, tz: string, options: TimetableOptions): number | undefined {
  for (const tr of transitions(tz, after - NEAR, after + NEAR)) {
    if (tr.to >= tr.from) continue;
    // Instants in [at, at + shift) show again the wall-clock times of the shift before `at`.
    const end = tr.at + (tr.from - tr.to);
    if (end <= after) continue;
    const from = Math.max(after, tr.at - 1);
    const expr = expression(pattern, options.hashSeed, from + tr.to - 1000);
    for (let step = 0; step < MAX_STEPS; step++) {
      const t = expr.next().getTime() - tr.to;
      if (t >= end) break;
      if (t > from) return t;
    }
  }
  return undefined;
}

/**
 * The first instant strictly after `after` (ms) at which `pattern` fires in `options.tz` under the
 * DST policy; undefined if it never does again.
 * @throws cron-parser's error for a pattern it cannot read.
 */
export function nextTick(pattern: string, after: number, options: TimetableOptions = {}): number | undefined {
  const tz = options.tz ?? processZone();
  const trimmed = pattern.trim();
  const first = nextFirstOccurrence(trimmed, after, tz, options);
  if (options.dst?.overlap !== 'both') return first;
  const second = nextSecondOccurrence(trimmed, after, tz, options);
  if (second === undefined) return first;
  return first === undefined ? second : Math.min(first, second);
}

/** The next `n` instants after `after` (fewer if the pattern ends). */
export function nextTicks(pattern: string, n: number, after: number, options: TimetableOptions = {}): number[] {
  const out: number[] = [];
  let t = after;
  while (out.length < n) {
    const next = nextTick(pattern, t, options);
    if (next === undefined) break;
    out.push(next);
    t = next;
  }
  return out;
}

/** The ticks in (after, until], at most `max`; for catching up and recording missed runs. */
export function ticksBetween(pattern: string, after: number, until: number, max: number, options: TimetableOptions = {}): number[] {
  const out: number[] = [];
  let t = after;
  while (out.length < max) {
    const next = nextTick(pattern, t, options);
    if (next === undefined || next > until) break;
    out.push(next);
    t = next;
  }
  return out;
}

/** The pattern with `H` fields replaced by their seeded values, e.g. for describing it in words. */
export function resolvedPattern(pattern: string, hashSeed?: string): string {
  const trimmed = pattern.trim();
  if (!/(^|[\s,])H/.test(trimmed)) return trimmed;
  const seconds = trimmed.split(/\s+/).length === 6;
  return CronExpressionParser.parse(trimmed, { tz: 'UTC', ...(hashSeed ? { hashSeed } : {}) }).stringify(seconds);
}
