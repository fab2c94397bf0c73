/** One problem with one input field: `field` is a dotted path such as `data.ms` or `REDIS_URL`. */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

/** Input that was rejected before anything was written. The HTTP layer answers 400 with `details`. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    message: string,
    readonly details: readonly FieldIssue[] = [],
  ) {
    super(message);
  }
}

/** The environment is invalid; entry points print the details and exit 1. */
export class ConfigError extends ValidationError {
  override readonly name = 'ValidationError';
  constructor(details: readonly FieldIssue[]) {
    super(`Invalid configuration:\n${details.map((d) => `  - ${d.message}`).join('\n')}`, details);
  }
}

/** A job, schedule or queue that does not exist. HTTP: 404. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** The request conflicts with the current state (e.g. retrying a job that has not failed). HTTP: 409. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/**
 * What a failed write did: `not-written` when the call never reached Redis (the connection was
 * down before it started); `unknown` when Redis failed during the call, so the write may or may
 * not have happened.
 */
export type WriteOutcome = 'not-written' | 'unknown';

/**
 * Redis cannot be reached right now. HTTP: 503. `outcome` says whether anything may have been
 * written; an enqueue carries its idempotency key in `jobId`: retrying with that key is safe
 * either way (it creates the job at most once).
 */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
  constructor(
    message: string,
    readonly outcome: WriteOutcome = 'not-written',
    key?: string | readonly string[],
  ) {
    super(message);
    if (typeof key === 'string') this.jobId = key;
    else if (key !== undefined) this.jobIds = key;
  }

  /** The idempotency key of the enqueue that failed: retry with it. */
  readonly jobId?: string;
  /** The keys of a bulk enqueue that failed, in order: retry with them. */
  readonly jobIds?: readonly string[];
}

/**
 * True for an error of a connection to Redis refused, reset or closed (or a fail-fast one that
 * queues nothing while offline), or of a command that got no answer in time (REDIS_COMMAND_TIMEOUT_MS:
 * a frozen Redis, a partition; the command may still run).
 */
export function isConnectionLost(err: unknown): boolean {
  return /Connection is closed|enableOfflineQueue|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|max retries|Command timed out/i.test(messageOf(err));
}

/**
 * True for a refusal Redis answered although it is connected: a Cluster that is down or still
 * redirecting, a Redis loading its data, or out of memory under `noeviction`.
 */
export function isRedisRefusing(err: unknown): boolean {
  return isRedisOutOfMemory(err) || /CLUSTERDOWN|Too many Cluster redirections|MASTERDOWN|LOADING|TRYAGAIN/i.test(messageOf(err));
}

/** True for Redis refusing a write because it is out of memory (maxmemory with `noeviction`). */
export function isRedisOutOfMemory(err: unknown): boolean {
  return /^OOM |OOM command not allowed/i.test(messageOf(err));
}

/**
 * True for an error that says Redis cannot serve right now (a lost connection, or a refusal), as
 * opposed to one it answered about the request. Callers answer these with 503 (retry later), never 500.
 */
export function isRedisUnavailable(err: unknown): boolean {
  return isConnectionLost(err) || isRedisRefusing(err);
}

const messageOf = (err: unknown): string => (err as Error)?.message ?? '';

/** Builds field issues from a zod error, prefixing each path with `root` (e.g. `data`). */
export function issuesFromZod(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  root: string,
): FieldIssue[] {
  return issues.map((i) => {
    const field = [root, ...i.path.map(String)].filter(Boolean).join('.');
    return { field: field || root, message: `${field || root}: ${i.message}` };
  });
}
