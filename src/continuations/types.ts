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

/** Prefix of every continuation's job id; the worker only looks up continuation data for these. */
export const CONTINUATION_PREFIX = 'cont-';

/** A parent's outcome without its reference. */
export type Outcome = Omit<ParentOutcome, 'queue' | 'id'>;
