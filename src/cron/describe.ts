import cronstrue from 'cronstrue';
import { resolvedPattern } from './timetable.js';

/** What `describeSchedule` needs: a cron pattern (with its zone and `H` seed) or an interval. */
export interface DescribableSchedule {
  readonly cron?: string;
  readonly every?: number;
  readonly tz?: string;
  /** The schedule id, which seeds `H` fields: the description shows the values that run. */
  readonly id?: string;
}

const UNITS: [number, string][] = [
  [24 * 3600 * 1000, 'day'],
  [3600 * 1000, 'hour'],
  [60 * 1000, 'minute'],
  [1000, 'second'],
  [1, 'millisecond'],
];

function describeEvery(ms: number): string {
  const [size, unit] = UNITS.find(([size]) => ms % size === 0) ?? [1, 'millisecond'];
  const n = ms / size;
  return n === 1 ? `Every ${unit}` : `Every ${n} ${unit}s`;
}

/**
 * A schedule's pattern in words, e.g. "At 02:30, every day (Europe/Paris)" or "Every 5 seconds".
 * Cron patterns are described by cronstrue, with `H` replaced by the schedule's own values.
 */
export function describeSchedule(schedule: DescribableSchedule): string {
  if (schedule.cron === undefined) {
    return schedule.every !== undefined ? describeEvery(schedule.every) : 'No pattern';
  }
  let words: string;
  try {
    words = cronstrue.toString(resolvedPattern(schedule.cron, schedule.id), { use24HourTimeFormat: true });
  } catch {
    return `Cron "${schedule.cron}"`;
  }
  // cronstrue leaves the day out of a bare daily time ("At 02:30"); say it.
  if (/^At \d{2}:\d{2}(:\d{2})?$/.test(words)) words += ', every day';
  const zone = schedule.tz ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  return `${words} (${zone})`;
}
