import type { Queue } from 'bullmq';
import type { BenchData } from './protocol.js';

/** A running worker inside a worker child. */
export interface BenchWorker {
  setConcurrency(n: number): void;
  close(): Promise<void>;
}

/** The producing half of one side (the center or bare BullMQ), in the bench process. */
export interface ProducerSide {
  readonly kind: 'center' | 'bullmq';
  /** The `batch` queue of this side's prefix (pause/resume/fill use it directly on both sides). */
  readonly queue: Queue;
  ready(): Promise<void>;
  /** One job; returns its id. */
  add(data: BenchData, delay?: number): Promise<string>;
  addBulk(items: BenchData[]): Promise<void>;
  /** A 6-field cron schedule of the no-op job. */
  upsertSchedule(id: string, cron: string): Promise<void>;
  removeSchedule(id: string): Promise<void>;
  /** A parent job running `parentMs`, followed by a job that starts after it; returns the parent's id. */
  chain(tag: string, parentMs: number): Promise<string>;
  close(): Promise<void>;
}
