import { setTimeout as sleep } from 'node:timers/promises';
import { order, waitUntil, type Bench, type SideKind } from './context.js';
import { now } from './protocol.js';
import { round2, summarize, type Summary } from './stats.js';

/*
 * Pickup latency (enqueue call → handler start), continuation hops (parent handler end →
 * continuation handler start) and delayed-job delay error (handler start − due time). Timestamps
 * come from both processes' clocks (same machine). Percentiles are over all rounds' samples.
 */
export interface Pair {
  center: Summary;
  bullmq: Summary;
  /** center p99 / bullmq p99 */
  p99Ratio: number;
}

export interface PickupResult {
  concurrency: number;
  idle: Pair;
  load: Pair & { rate: number };
}

function pair(samples: Record<SideKind, number[]>): Pair {
  const center = summarize(samples.center);
  const bullmq = summarize(samples.bullmq);
  return { center, bullmq, p99Ratio: Math.round((center.p99 / bullmq.p99) * 1000) / 1000 };
}

const CONCURRENCY = 10;

export async function benchPickup(b: Bench): Promise<PickupResult> {
  const s = b.sizes;
  for (const side of Object.values(b.sides)) await side.worker.setConcurrency(CONCURRENCY);
  const idle: Record<SideKind, number[]> = { center: [], bullmq: [] };
  const load: Record<SideKind, number[]> = { center: [], bullmq: [] };
  const rate = Math.max(20, Math.round((b.bareRateC10 ?? 400) * s.loadFraction));
  for (let round = 0; round < s.rounds; round++) {
    for (const kind of order(round)) {
      const { worker, producer } = b.sides[kind];
      // Idle: one job at a time, each after the worker has gone back to waiting.
      await worker.reset();
      await worker.notify(true);
      for (let i = 0; i < s.idleProbes; i++) {
        const started = worker.waitStarted(() => true);
        await producer.add({ ms: 0, result: { sent: now() } });
        await started;
        await sleep(10);
      }
      await worker.notify(false);
      idle[kind].push(...(await worker.collect()).pickup);

      // Under load: an open-loop stream at `rate` jobs/s; every job is a probe.
      await worker.reset();
      const adds: Promise<unknown>[] = [];
      const t0 = now();
      let sent = 0;
      while (now() - t0 < s.loadSeconds * 1000) {
        const due = Math.floor(((now() - t0) / 1000) * rate);
        for (; sent < due; sent++) adds.push(producer.add({ ms: 0, result: { sent: now() } }));
        await sleep(5);
      }
      await Promise.all(adds);
      await waitUntil(async () => (await worker.counts()).count >= sent, 'load probes done', 60_000);
      load[kind].push(...(await worker.collect()).pickup);
    }
    b.log(`pickup round ${round + 1}/${s.rounds} done`);
  }
  return { concurrency: CONCURRENCY, idle: pair(idle), load: { ...pair(load), rate } };
}

export async function benchContinuations(b: Bench): Promise<Pair & { parentMs: number }> {
  const s = b.sizes;
  const parentMs = 30;
  const hops: Record<SideKind, number[]> = { center: [], bullmq: [] };
  for (const side of Object.values(b.sides)) await side.worker.setConcurrency(CONCURRENCY);
  for (let round = 0; round < s.rounds; round++) {
    for (const kind of order(round)) {
      const { worker, producer } = b.sides[kind];
      await worker.reset();
      await worker.notify(true);
      for (let i = 0; i < s.continuations; i++) {
        const started = worker.waitStarted((m) => m.after !== undefined);
        await producer.chain(`r${round}x${i}`, parentMs);
        await started;
        await sleep(10);
      }
      await worker.notify(false);
      hops[kind].push(...(await worker.collect()).hops);
    }
    b.log(`continuations round ${round + 1}/${s.rounds} done`);
  }
  return { ...pair(hops), parentMs };
}

/** Delayed jobs of 100-1000 ms, interleaved between the sides so both see the same moments. */
export async function benchDelayError(b: Bench): Promise<Pair> {
  const s = b.sizes;
  const kinds = ['center', 'bullmq'] as const;
  for (const kind of kinds) await b.sides[kind].worker.reset();
  for (let i = 0; i < s.delayedProbes; i++) {
    const delay = 100 + ((i * 137) % 900);
    for (const kind of i % 2 ? [...kinds].reverse() : kinds) {
      const sent = now();
      await b.sides[kind].producer.add({ ms: 0, result: { due: sent + delay } }, delay);
    }
    await sleep(40);
  }
  const out: Record<SideKind, number[]> = { center: [], bullmq: [] };
  for (const kind of kinds) {
    const w = b.sides[kind].worker;
    await waitUntil(async () => (await w.counts()).count >= s.delayedProbes, 'delayed probes done', 30_000);
    out[kind] = (await w.collect()).delayError;
  }
  b.log(`delay error p99: center ${round2(summarize(out.center).p99)} ms, bullmq ${round2(summarize(out.bullmq).p99)} ms`);
  return pair(out);
}
