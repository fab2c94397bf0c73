/*
 * Wall-clock arithmetic for IANA time zones with nothing but Intl: the UTC offset at an instant,
 * the instants a local (wall-clock) time maps to, and the DST transitions in a range. Local times
 * are written as "naive" milliseconds: the wall clock read as if it were UTC.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

const HOUR = 3600 * 1000;
/** tz → hour bucket → offset, for hours whose offset is the same at both ends (nearly all). */
const hourly = new Map<string, Map<number, number>>();

/** The zone's offset from UTC at instant `t`, in ms (Paris in summer: +7 200 000). */
export function offsetAt(tz: string, t: number): number {
  // Formatting a date costs tens of µs and a timetable asks for several per tick: cache whole
  // hours. No zone changes its offset twice within an hour, so equal ends mean a constant hour.
  let byHour = hourly.get(tz);
  if (!byHour) hourly.set(tz, (byHour = new Map()));
  const bucket = Math.floor(t / HOUR);
  const hit = byHour.get(bucket);
  if (hit !== undefined) return hit;
  const start = computeOffset(tz, bucket * HOUR);
  if (start === computeOffset(tz, bucket * HOUR + HOUR - 1000)) {
    if (byHour.size > 200_000) byHour.clear();
    byHour.set(bucket, start);
    return start;
  }
  return computeOffset(tz, t);
}

function computeOffset(tz: string, t: number): number {
  const whole = Math.floor(t / 1000) * 1000;
  const p: Record<string, string> = {};
  for (const part of formatter(tz).formatToParts(new Date(whole))) p[part.type] = part.value;
  let year = Number(p.year);
  if (p.era === 'BC' || p.era === 'B') year = 1 - year;
  const wall = Date.UTC(year, Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return wall - whole;
}

/** The wall-clock time at instant `t`, as naive ms. */
export function toLocal(tz: string, t: number): number {
  return t + offsetAt(tz, t);
}

/** Zones shift by at most a few hours; a day either side covers every transition near a time. */
const DAY = 24 * 3600 * 1000;

/**
 * The instants at which the wall clock reads `local`, earliest first: one normally, two when a
 * fall-back repeats it, none when a spring-forward skips it.
 */
export function instantsOf(tz: string, local: number): number[] {
  const before = offsetAt(tz, local - DAY);
  const after = offsetAt(tz, local + DAY);
  const out: number[] = [];
  for (const off of before === after ? [before] : [before, after]) {
    const t = local - off;
    if (offsetAt(tz, t) === off && !out.includes(t)) out.push(t);
  }
  if (out.length === 0) {
    // Between the two candidates the offset changes once, whatever the zone's previous offset
    // was; a time that matches neither is in the gap.
    const a = local - Math.max(before, after);
    const b = local - Math.min(before, after);
    if (offsetAt(tz, a) === offsetAt(tz, b)) out.push(a);
  }
  return out.sort((x, y) => x - y);
}

/**
 * The first instant after a spring-forward gap that contains `local` (a time no clock shows):
 * the moment of the transition itself.
 */
export function gapEnd(tz: string, local: number): number {
  const whole = Math.floor(local / 1000) * 1000;
  let lo = whole - Math.max(offsetAt(tz, whole - DAY), offsetAt(tz, whole + DAY));
  let hi = whole - Math.min(offsetAt(tz, whole - DAY), offsetAt(tz, whole + DAY));
  const first = offsetAt(tz, lo);
  // Invariant: offset(lo) is the old one, offset(hi) the new one; transitions fall on whole seconds.
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (offsetAt(tz, mid) === first) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** A change of the zone's offset. */
export interface Transition {
  /** The first instant with the new offset. */
  readonly at: number;
  readonly from: number;
  readonly to: number;
}

/** The offset changes in [from, to), found by sampling every 12 h and bisecting. */
export function transitions(tz: string, from: number, to: number): Transition[] {
  const out: Transition[] = [];
  const step = DAY / 2;
  let t = Math.floor(from / 1000) * 1000;
  let off = offsetAt(tz, t);
  while (t < to) {
    const next = Math.min(t + step, to);
    const nextOff = offsetAt(tz, next);
    if (nextOff !== off) {
      let lo = t;
      let hi = next;
      while (hi - lo > 1000) {
        const mid = Math.floor((lo + hi) / 2000) * 1000;
        if (offsetAt(tz, mid) === off) lo = mid;
        else hi = mid;
      }
      out.push({ at: hi, from: off, to: nextOff });
    }
    t = next;
    off = nextOff;
  }
  return out;
}
