import { pool, usedMemory, type Bench, type SideKind } from './context.js';
import { now } from './protocol.js';
import { round2 } from './stats.js';

/*
 * Redis memory (INFO used_memory deltas) of many delayed jobs and many schedules, put in the very
 * queues the workers consume so that the schedule-lateness run that follows sees them. Delayed jobs
 * are due in a week; schedules are cron patterns for a date months away, so none fires meanwhile.
 */
export interface StoreCost {
  count: number;
  /** Redis memory added, MB. */
  mb: number;
  bytesEach: number;
  /** Time to write them (client calls, 100 in flight for jobs, 50 for schedules), s. */
  seconds: number;
}

export interface FootprintResult {
  delayed: Record<SideKind, StoreCost>;
  schedules: Record<SideKind, StoreCost>;
}

async function measure(b: Bench, count: number, write: () => Promise<void>): Promise<StoreCost> {
  const before = await usedMemory(b.admin);
  const t0 = now();
  await write();
  const seconds = (now() - t0) / 1000;
  const after = await usedMemory(b.admin);
  return { count, mb: round2((after - before) / 2 ** 20), bytesEach: Math.round((after - before) / count), seconds: round2(seconds) };
}

export async function benchFootprint(b: Bench): Promise<FootprintResult> {
  const s = b.sizes;
  const week = 7 * 24 * 3600 * 1000;
  const month = ((new Date().getUTCMonth() + 6) % 12) + 1;
  const delayed = {} as Record<SideKind, StoreCost>;
  const schedules = {} as Record<SideKind, StoreCost>;
  for (const kind of ['center', 'bullmq'] as const) {
    const p = b.sides[kind].producer;
    delayed[kind] = await measure(b, s.footprintDelayed, () => pool(s.footprintDelayed, 100, (i) => p.add({ ms: 0 }, week + i)));
    b.log(`footprint: ${kind} ${s.footprintDelayed} delayed jobs = ${delayed[kind].mb} MB in ${delayed[kind].seconds} s`);
    schedules[kind] = await measure(b, s.footprintSchedules, () =>
      pool(s.footprintSchedules, 50, (i) =>
        p.upsertSchedule(`dormant-${i}`, `0 ${i % 60} ${Math.floor(i / 60) % 24} ${1 + (Math.floor(i / 1440) % 28)} ${month} *`),
      ),
    );
    b.log(`footprint: ${kind} ${s.footprintSchedules} schedules = ${schedules[kind].mb} MB in ${schedules[kind].seconds} s`);
  }
  return { delayed, schedules };
}
