/*
 * What the bench parent and its worker children say to each other over the IPC channel, and the
 * payload every bench job carries. All timestamps are absolute milliseconds with sub-millisecond
 * precision (see `now()`), comparable across processes on one machine.
 */

/** Which implementation a worker child runs. */
export type WorkerKind = 'center' | 'bullmq' | 'bee';

/** The bench job's payload: valid for the `sleep` contract ({ ms, result? }). */
export interface BenchData {
  ms: number;
  result?: {
    /** When the producer started the enqueue call: handler start − sent = pickup latency. */
    sent?: number;
    /** When a delayed job is due: handler start − due = delay error. */
    due?: number;
    /** Record when this job's handler ends (it is the parent of a continuation). */
    track?: boolean;
    /** This job continues the tracked job with this id: start − that job's end = hop. */
    after?: string;
  };
}

export type ToChild =
  | { type: 'count' }
  | { type: 'collect' }
  | { type: 'reset' }
  | { type: 'concurrency'; n: number }
  | { type: 'notify'; on: boolean }
  | { type: 'progressMode'; on: boolean }
  /** bee-queue only: open a worker queue with this concurrency, but do not process yet. */
  | { type: 'prepare'; n: number }
  /** bee-queue only: start processing. */
  | { type: 'go' }
  | { type: 'stop' };

export interface Counts {
  count: number;
  /** First handler start and last handler end since the last reset (0 when none). */
  first: number;
  last: number;
  rss: number;
  rssPeak: number;
  /** CPU time (user + system) of the worker process since the last reset, ms. */
  cpuMs: number;
}

export interface Samples {
  pickup: number[];
  lateness: number[];
  delayError: number[];
  hops: number[];
}

export type FromChild =
  | { type: 'ready'; rss: number }
  | { type: 'reply'; seq: number; counts?: Counts; samples?: Samples }
  | { type: 'started'; id: string; t: number; after?: string };

/** Absolute wall-clock milliseconds with sub-millisecond resolution. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
