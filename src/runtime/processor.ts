import { inspect } from 'node:util';
import { WaitingError, type Job } from 'bullmq';
import { withDeadline } from '../deadline.js';
import type { Logger } from '../logger.js';
import { runBeforeHooks, type BeforeRunResult, type JobHook } from './hooks.js';
import { JobAbort } from './job-abort.js';
import { RunContext } from './job-context.js';
import type { Routing } from './routing.js';

/** Thrown into a job that ran past its contract's `timeoutMs`; retried like any other failure. */
export class JobTimeoutError extends Error {
  override readonly name = 'JobTimeoutError';
}

/**
 * What a handler threw, as an error BullMQ can record. BullMQ reads `err.message` (and `name`,
 * `stack`): a thrown `null` or `undefined` made its failure handling itself throw, so the job
 * stayed "active" until its lock expired and then ran again; a thrown string or number was
 * stored with the reason "null". A string becomes the message; other values are described.
 */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'object' && thrown !== null && typeof (thrown as { message?: unknown }).message === 'string') {
    return thrown as Error; // error-like (another realm's Error, a plain { message }): BullMQ reads it as it is
  }
  if (typeof thrown === 'string') return new Error(thrown);
  return new Error(`The handler threw a non-Error value: ${inspect(thrown, { depth: 2, breakLength: Infinity }).slice(0, 1000)}`);
}

/** The abort reason of jobs still running at the shutdown deadline. */
export const SHUTDOWN = Symbol('shutdown');

/**
 * The key of a running job in `active`: its BullMQ queue and its id. A job id is unique per queue
 * only (a caller's own jobId, an order number, may name a job in two queues): keyed by id alone, the
 * second job of a process replaced the first, so a cancel of the first was not heard (it ran to its
 * end) and shutdown never aborted it (a handler ignoring its signal held shutdown).
 */
export const activeKey = (queue: string, id: string): string => `${queue}\n${id}`;

/** A running job, as shutdown sees it. */
export interface ActiveJob {
  readonly job: Job;
  readonly abort: JobAbort;
}

/**
 * The BullMQ processor of one queue, as a sequence of small steps:
 * 1. routing: the job's handler and its validated payload (`routing.ts`);
 * 2. hooks' `beforeRun`: continuation gate, overlap lock, … (`hooks.ts`), which may skip the run;
 * 3. the handler, under its deadline (the contract's timeout, or shutdown) (`deadline.ts`);
 * 4. hooks' `release`, whatever happened.
 */
export function processorFor(options: {
  queue: string;
  routing: Routing;
  hooks: readonly JobHook[];
  logger: Logger;
  /** Keyed by `activeKey`. */
  active: Map<string, ActiveJob>;
  /**
   * True once the shutdown deadline has passed. A job BullMQ had already taken when shutdown began
   * may reach the processor (and `active`) only after that moment: it is handed back at once
   * instead of being run to its end (with SHUTDOWN_TIMEOUT_MS=0 a 20 s job held shutdown 20 s).
   */
  shutdownPassed?: () => boolean;
  /** Cancels not applied yet: heard before the job reached the processor, or marked in Redis (cancel-listener.ts); none when omitted. */
  pendingCancels?: { take(queue: string, id: string): Error | undefined; marked(queue: string, id: string): Promise<Error | undefined> };
  /** Lines of `ctx.log` copied to the job's own log per run (0: none). @defaultValue 100 */
  jobLogMaxLines?: number;
}): (job: Job, token?: string) => Promise<unknown> {
  const { queue, routing, hooks, logger, active, shutdownPassed = () => false, pendingCancels, jobLogMaxLines = 100 } = options;
  const where = { queue, logger, jobLogMaxLines };
  // Two parameters on purpose: BullMQ creates an AbortController per job for processors that
  // declare a third (signal) parameter (worker.js processorAcceptsSignal); we cancel with our own.
  return async (job: Job, token?: string): Promise<unknown> => {
    const { handler, data } = routing.route(queue, job);
    const id = String(job.id);
    // Only jobs some hook concerns pay for the hook machinery (an await, an array).
    let before: { results: BeforeRunResult[]; skip?: { returnValue: unknown } } | undefined;
    for (const hook of hooks) {
      if (hook.beforeRun && (!hook.applies || hook.applies(job))) {
        before = await runBeforeHooks(hooks, job);
        break;
      }
    }
    try {
      if (before?.skip) return before.skip.returnValue;
      const parent = before?.results.find((r) => r.parent)?.parent;
      const abort = new JobAbort();
      const key = activeKey(job.queueName, id);
      active.set(key, { job, abort });
      if (shutdownPassed()) abort.abort(SHUTDOWN); // shutdown's sweep of `active` is over: see shutdownPassed
      const cancelled = pendingCancels?.take(job.queueName, id) ?? (job.attemptsStarted > 1 ? await pendingCancels?.marked(job.queueName, id) : undefined);
      if (cancelled) abort.abort(cancelled);
      const ctx = new RunContext(job, abort, where, parent);
      const timeoutMs = handler.contract.defaults.timeoutMs;
      try {
        // Raced against the job's abort (shutdown, a cancel request, the timeout below), so a
        // handler that ignores its signal is still let go of.
        // A job handed back or cancelled before it started does not start its handler at all.
        const run = abort.aborted ? Promise.reject(abort.reason) : abort.race(handler.run(data, ctx));
        return await (timeoutMs > 0
          ? withDeadline(run, timeoutMs, () => {
              const err = new JobTimeoutError(`Job exceeded its timeout of ${timeoutMs} ms`);
              abort.abort(err);
              return err;
            })
          : run);
      } catch (err) {
        if (abort.reason === SHUTDOWN) {
          // Past the shutdown deadline: hand the job back to the queue now instead of leaving it
          // "active" until its lock expires.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        throw asError(err);
      } finally {
        ctx.end();
        active.delete(key);
      }
    } finally {
      if (before) {
        for (const r of before.results.reverse()) {
          if (!r.release) continue;
          try {
            await r.release();
          } catch (err) {
            logger.warn({ queue, job: id, err: (err as Error).message }, 'A job hook could not release what it took');
          }
        }
      }
    }
  };
}
