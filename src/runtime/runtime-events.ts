import { EventEmitter } from 'node:events';
import type { Job } from 'bullmq';
import type { Logger } from '../logger.js';

/** What a worker runtime reports as it runs (`runtime.events`). */
export interface WorkerRuntimeEvents {
  /** Every consumed queue's BullMQ worker is connected and taking jobs. */
  ready: [info: { queues: readonly string[] }];
  /** A run finished; `result` is the handler's return value. */
  'job.completed': [job: Job, result: unknown];
  /** A run failed; `final` is true when no retry follows (last attempt or unrecoverable). */
  'job.failed': [job: Job, error: Error, final: boolean];
  /** `close()` finished: no job runs and the worker connections are closed. */
  closed: [];
}

/** What a producer runtime reports as it runs (`runtime.events`). */
export interface ProducerRuntimeEvents {
  /** The declared schedules are in Redis (the start-up sync). */
  ready: [result: { owner: string }];
  /** A periodic check re-created schedules that had gone missing. */
  'schedules.healed': [ids: readonly string[]];
}

type EventMap<T> = { [K in keyof T]: unknown[] };

/**
 * A typed EventEmitter for the runtimes, so tests and embedding code wait on what happened instead
 * of polling Redis or reading log text. A listener that throws is logged, never allowed into
 * BullMQ's event handling (where it would break the worker's loop). With no listener an emit costs
 * one map lookup, so the hot path per job is unchanged.
 */
export class RuntimeEvents<T extends EventMap<T>> extends EventEmitter<T> {
  constructor(private readonly logger: Logger) {
    super();
  }

  /** `emit`, with a throwing listener logged instead of propagated. */
  report<K extends keyof T & string>(event: K, ...args: T[K]): void {
    if (this.listenerCount(event as never) === 0) return;
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      this.logger.warn({ event, err: (err as Error).message }, 'A runtime event listener threw');
    }
  }
}
