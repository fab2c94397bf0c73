import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues.js';
import type { ContinuationKeys } from './keys.js';

/** Which outcome of the parent lets the continuation run. */
export type ContinueOn = 'success' | 'finished';

/** A job by queue and id. */
export interface JobRef {
  readonly queue: string;
  readonly id: string;
}

/** What a continuation's handler learns about its parent. */
export interface ParentOutcome {
  readonly queue: string;
  readonly id: string;
  readonly state: 'completed' | 'failed' | 'missing';
  readonly returnValue: unknown;
  readonly failedReason: string | null;
}

export { CONTINUATION_PREFIX } from '../jobs/center-ids.js';

/**
 * The "queue" of a watch: a registration that, instead of adding a job, reports the parent's outcome
 * to a join (a continuation after several parents, kept as a batch; see join.ts). Not a valid queue
 * name, so it never meets a real one.
 */
export const WATCH_QUEUE = '#join';

/** A parent's outcome without its reference. */
export type Outcome = Omit<ParentOutcome, 'queue' | 'id'>;

/**
 * What a released continuation carries in its BullMQ job options (`opts.jc`): its parent's outcome,
 * so the worker needs no Redis read before running it, and why it was cancelled, if it was.
 */
export interface ContinuationMeta {
  readonly parent: ParentOutcome;
  /** The parent's BullMQ queue when it differs from `parent.queue` (a shard of a sharded queue). */
  readonly parentQueue?: string;
  readonly cancelled?: string;
}

/** How long released continuation bookkeeping is kept (for duplicate detection and getJob). */
export const KEEP_SECONDS = 14 * 24 * 3600;

/** What the registration, release and sweep steps share. */
export interface ContinuationDeps {
  readonly config: Config;
  readonly queues: Queues;
  readonly keys: ContinuationKeys;
  readonly logger: Logger;
}
