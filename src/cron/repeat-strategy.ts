import type { RepeatOptions, RepeatStrategy } from 'bullmq';
import { nextTick, type DstPolicy } from './timetable.js';

/**
 * Repeat options as the center stores them on a BullMQ job scheduler: BullMQ keeps unknown keys
 * in each tick's `opts.repeat`, which is what it hands back to the repeat strategy, so the DST
 * policy and the `H` seed travel with the schedule and need no lookup.
 */
export interface CenterRepeatOptions extends RepeatOptions {
  dst?: DstPolicy;
  /** The schedule id: `H` fields hash from it (cron-parser's `hashSeed`). */
  hashSeed?: string;
}

/**
 * BullMQ's `settings.repeatStrategy` for every Queue and Worker of the center: the next tick of
 * a cron schedule from the center's timetable (DST policy, seeded `H`, start and end dates).
 * BullMQ calls it with `millis` = max(now, the tick just taken), on upsert and each time a worker
 * takes a tick. Returning undefined adds no next tick: the schedule has ended.
 */
export const repeatStrategy: RepeatStrategy = (millis, opts) => {
  const o = opts as CenterRepeatOptions;
  if (!o.pattern) return undefined;
  if (o.immediately) return Date.now();
  const start = o.startDate !== undefined ? new Date(o.startDate).getTime() : undefined;
  const after = start !== undefined && start - 1 > millis ? start - 1 : millis;
  const next = nextTick(o.pattern, after, { tz: o.tz, dst: o.dst, hashSeed: o.hashSeed });
  const end = o.endDate !== undefined ? new Date(o.endDate).getTime() : undefined;
  return next === undefined || (end !== undefined && next > end) ? undefined : next;
};
