import type { Job } from 'bullmq';
import type { ParentOutcome } from '../continuations/types.js';
import type { JobContract, Payload } from '../jobs/contract.js';
import type { Logger } from '../logger.js';

/** What a handler gets besides its payload. */
export interface JobContext {
  /** The BullMQ job (id, attemptsMade, opts…). Use `jobId` + `attempt` as idempotency keys. */
  readonly job: Job;
  readonly jobId: string;
  /** 1 on the first try, 2 on the first retry… */
  readonly attempt: number;
  /** Fires on the contract's timeout and on worker shutdown past its deadline: stop work, then throw. */
  readonly signal: AbortSignal;
  /** A logger bound to this job (queue, name, id, attempt). */
  readonly log: Logger;
  /** Reports progress (a number 0-100 or an object), shown on the board and by the API. */
  progress(value: number | object): Promise<void>;
  /**
   * For a run of a schedule: the tick it was made for (a catch-up run of `misfire: 'all'`: its
   * own missed tick). Undefined for other jobs.
   */
  readonly tick: Date | undefined;
  /** For a continuation: how its parent finished. Undefined for other jobs. */
  parent(): ParentOutcome | undefined;
}

/** A handler bound to its contract: the only way a worker learns how to run a job. */
export interface BoundHandler {
  readonly contract: JobContract;
  readonly run: (data: unknown, ctx: JobContext) => Promise<unknown>;
}

/**
 * Binds a handler to a contract; `data` is typed from the contract's schema and already validated
 * when the handler runs.
 */
export function defineHandler<C extends JobContract, R>(
  contract: C,
  run: (data: Payload<C>, ctx: JobContext) => Promise<R>,
): BoundHandler {
  return { contract, run: run as (data: unknown, ctx: JobContext) => Promise<unknown> };
}
