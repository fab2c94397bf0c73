import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { WorkerChild } from './children.js';
import type { WorkerKind } from './protocol.js';
import type { ProducerSide } from './sides.js';

/** How much work each measurement does. */
export interface Sizes {
  rounds: number;
  enqueueSequential: number;
  enqueueConcurrent: number;
  inFlight: number;
  enqueueBulk: number;
  bulkBatch: number;
  throughputJobs: number;
  progressJobs: number;
  beeJobs: number;
  roundTripJobs: number;
  idleProbes: number;
  loadSeconds: number;
  /**
   * Open-loop load rate as a fraction of bare BullMQ's measured throughput at concurrency 10. Kept
   * well below 1: the producer, Redis and the worker share the machine's cores, so near saturation
   * the latency measures queueing, not pickup.
   */
  loadFraction: number;
  continuations: number;
  delayedProbes: number;
  ticks: number;
  loadedTicks: number;
  footprintDelayed: number;
  footprintSchedules: number;
}

/** The job counts `--scale k` multiplies (never the durations, tick counts or footprint sizes). */
export const SCALED = ['enqueueSequential', 'enqueueConcurrent', 'enqueueBulk', 'throughputJobs', 'progressJobs', 'beeJobs', 'roundTripJobs'] as const satisfies readonly (keyof Sizes)[];

// Each timed window should last about a second or more on a 2-core machine: with 5,000 jobs a
// concurrent enqueue or a c=50 drain took 0.1-0.3 s, and one GC pause or scheduler hiccup moved a
// ratio by 10-30 % between runs.
export const FULL: Sizes = {
  rounds: 5,
  enqueueSequential: 2000,
  enqueueConcurrent: 20_000,
  inFlight: 50,
  enqueueBulk: 30_000,
  bulkBatch: 100,
  throughputJobs: 15_000,
  progressJobs: 600,
  beeJobs: 3000,
  roundTripJobs: 300,
  idleProbes: 100,
  loadSeconds: 4,
  loadFraction: 0.3,
  continuations: 40,
  delayedProbes: 100,
  ticks: 60,
  loadedTicks: 30,
  footprintDelayed: 100_000,
  footprintSchedules: 10_000,
};

export const SMOKE: Sizes = {
  rounds: 1,
  enqueueSequential: 30,
  enqueueConcurrent: 100,
  inFlight: 10,
  enqueueBulk: 200,
  bulkBatch: 50,
  throughputJobs: 100,
  progressJobs: 30,
  beeJobs: 100,
  roundTripJobs: 30,
  idleProbes: 10,
  loadSeconds: 1,
  loadFraction: 0.5,
  continuations: 4,
  delayedProbes: 6,
  ticks: 2,
  loadedTicks: 2,
  footprintDelayed: 1000,
  footprintSchedules: 100,
};

export type SideKind = 'center' | 'bullmq';

export interface Side {
  readonly kind: SideKind;
  readonly prefix: string;
  readonly producer: ProducerSide;
  readonly worker: WorkerChild;
}

/** Everything a scenario needs: the Redis, both sides, sizes and a way to start more workers. */
export interface Bench {
  readonly url: string;
  /** A plain connection for INFO, CONFIG, MONITOR and key cleanup. */
  readonly admin: Redis;
  readonly sizes: Sizes;
  readonly sides: Record<SideKind, Side>;
  /** Starts another worker child (stopped by the bench at the end if the scenario does not). */
  spawn(kind: WorkerKind, label: string, prefix: string, concurrency: number): Promise<WorkerChild>;
  log(message: string): void;
  /** bare BullMQ's throughput at concurrency 10, once measured (drives the load of the latency test). */
  bareRateC10?: number;
}

/** Which side goes first in a round: alternating, so warm-up and drift hit both equally. */
export function order(round: number): SideKind[] {
  return round % 2 === 0 ? ['center', 'bullmq'] : ['bullmq', 'center'];
}

export async function waitUntil(fn: () => Promise<boolean>, what: string, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Deletes every key matching `pattern` (SCAN + UNLINK). */
export async function dropKeys(admin: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
}

export async function usedMemory(admin: Redis): Promise<number> {
  const info = await admin.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** Runs `task(i)` for i in [0, n) with at most `inFlight` running at once. */
export async function pool(n: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
}
