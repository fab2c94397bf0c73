import { waitUntil, type Bench, type SideKind } from './context.js';
import type { Pair } from './latency.js';
import { summarize } from './stats.js';

/*
 * Schedule precision: a per-second cron schedule on each side (the center's recurring.upsert vs a
 * bare upsertJobScheduler), both running at once so they see the same machine noise; lateness is
 * handler start − the tick the scheduler created the job for. The first tick is dropped (it may
 * be created mid-second by the upsert itself).
 */
export async function scheduleLateness(b: Bench, ticks: number, label: string): Promise<Pair & { ticks: number }> {
  const kinds = ['center', 'bullmq'] as const;
  const id = `bench-tick-${label}`;
  for (const kind of kinds) await b.sides[kind].worker.reset();
  for (const kind of kinds) await b.sides[kind].producer.upsertSchedule(id, '* * * * * *');
  const lateness: Record<SideKind, number[]> = { center: [], bullmq: [] };
  try {
    await waitUntil(
      async () => {
        const counts = await Promise.all(kinds.map((k) => b.sides[k].worker.counts()));
        return counts.every((c) => c.count >= ticks + 1);
      },
      `${ticks + 1} ticks on both sides`,
      (ticks + 30) * 1000,
      200,
    );
  } finally {
    for (const kind of kinds) await b.sides[kind].producer.removeSchedule(id);
  }
  for (const kind of kinds) lateness[kind] = (await b.sides[kind].worker.collect()).lateness.slice(1, ticks + 1);
  const center = summarize(lateness.center);
  const bullmq = summarize(lateness.bullmq);
  b.log(`schedule lateness (${label}) p99: center ${center.p99} ms, bullmq ${bullmq.p99} ms`);
  return { center, bullmq, p99Ratio: Math.round((center.p99 / bullmq.p99) * 1000) / 1000, ticks };
}
