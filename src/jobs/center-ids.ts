/*
 * Prefixes of the job ids the center makes for itself. A caller's job id (idempotency key) may not
 * start with one: a plain job taking a continuation's id would make BullMQ drop the continuation
 * when its parent finishes (an add whose id exists is ignored), silently.
 */

/** Prefix of every continuation's job id (`cont-<key>`). */
export const CONTINUATION_PREFIX = 'cont-';
/** Id prefix of a batch's jobs (`bat-<batch>-<i>`); the batch hook only looks at these. */
export const BATCH_JOB_PREFIX = 'bat-';
/** Id prefix of a batch's (a join's) `then` job (`batthen-<batch>`). */
export const BATCH_THEN_PREFIX = 'batthen-';

/**
 * Id prefix of a schedule's catch-up runs (`catchup-<tick millis>-<schedule>`): the worker takes a
 * job with such an id for a run of that schedule (its `then` job, its run history).
 */
export const CATCH_UP_PREFIX = 'catchup-';

export const CENTER_ID_PREFIXES = [CONTINUATION_PREFIX, BATCH_JOB_PREFIX, BATCH_THEN_PREFIX, CATCH_UP_PREFIX] as const;
