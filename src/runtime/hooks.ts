import type { Job } from 'bullmq';
import type { ParentOutcome } from '../continuations/types.js';

/*
 * Job hooks: how features that concern *some* jobs (continuations, a schedule's overlap lock, run
 * history, misfire handling) plug into the worker without touching its per-job path.
 *
 * Cost rule, because every no-op job pays for every hook: a hook must cost nothing measurable for
 * a job it does not concern.
 * - `applies(job)` is a cheap synchronous predicate (a field test, a Set lookup; never Redis). When it
 *   returns false, neither `beforeRun` nor `afterFinish` is called for that job. Schedule hooks
 *   test `job.repeatJobKey`; the continuation hook tests the job id prefix and an in-memory set.
 * - `beforeRun` and `afterFinish` may return synchronously (`undefined`); the runtime only awaits a
 *   returned promise, so a hook that decides "not mine" inside costs one function call.
 * - Hooks never do Redis work for jobs they do not concern, and what they do for the jobs they
 *   concern lives in those jobs' own hash slot on a Cluster (key tagged `{queue}`).
 *
 * Order: `beforeRun` runs in registration order before the handler (after the payload was
 * validated); the first hook that returns `skip` stops the run (later hooks' `beforeRun` are not
 * called). `release` callbacks run after the handler settled, in reverse order, before BullMQ
 * records the outcome. `afterFinish` runs after BullMQ recorded it (the worker's `completed` /
 * `failed` events), for every attempt; `outcome.final` tells whether more attempts follow.
 * A hook's `afterFinish` must not throw: errors are logged and otherwise ignored (the job's
 * outcome is already stored), so anything that must not be lost needs its own recovery (the
 * continuation sweep is one).
 */

/** What a hook's `beforeRun` may ask for. */
export interface BeforeRunResult {
  /** Do not run the handler: the job completes with this return value. */
  readonly skip?: { readonly returnValue: unknown };
  /**
   * Called once the handler settled (returned, threw, timed out, or was skipped by a later hook),
   * before BullMQ records the outcome: release what `beforeRun` took (a lock, a lease).
   */
  readonly release?: () => Promise<void> | void;
  /** Shown to the handler as `ctx.parent()` (a continuation's parent outcome). */
  readonly parent?: ParentOutcome;
}

/** How an attempt ended, as the worker's `completed` / `failed` events report it. */
export type FinishOutcome =
  | { readonly state: 'completed'; readonly returnValue: unknown; readonly final: true }
  | {
      readonly state: 'failed';
      readonly failedReason: string;
      /** False when BullMQ will retry the job (attempts left and the error was not unrecoverable). */
      readonly final: boolean;
    };

export interface JobHook {
  /** For logs: which hook failed. */
  readonly name: string;
  /** Cheap, synchronous, no I/O. False: this hook ignores the job entirely. @defaultValue always true */
  applies?(job: Job): boolean;
  /**
   * Before the handler. Throw to fail the attempt (an `UnrecoverableError` fails the job without
   * retries); return `skip` to complete it without running the handler.
   */
  beforeRun?(job: Job): Promise<BeforeRunResult | undefined> | BeforeRunResult | undefined;
  /** After BullMQ stored the attempt's outcome. Must not throw (errors are logged). */
  afterFinish?(job: Job, outcome: FinishOutcome): Promise<void> | void;
}

/** Runs the `beforeRun` of every hook that applies; the runtime calls this once per job. */
export async function runBeforeHooks(
  hooks: readonly JobHook[],
  job: Job,
): Promise<{ results: BeforeRunResult[]; skip?: { returnValue: unknown } }> {
  const results: BeforeRunResult[] = [];
  try {
    for (const hook of hooks) {
      if (!hook.beforeRun || (hook.applies && !hook.applies(job))) continue;
      const maybe = hook.beforeRun(job);
      const result = maybe && typeof (maybe as Promise<unknown>).then === 'function' ? await maybe : (maybe as BeforeRunResult | undefined);
      if (!result) continue;
      results.push(result);
      if (result.skip) return { results, skip: result.skip };
    }
  } catch (err) {
    // A later hook failed the run: give back what the earlier ones took, then fail.
    for (const r of results.reverse()) await Promise.resolve(r.release?.()).catch(() => {});
    throw err;
  }
  return { results };
}

/**
 * Calls every applying hook's `afterFinish`; errors go to `onError`, never to the caller.
 * `outcome` is called on the first applying hook only: most jobs concern no hook, and this runs
 * for every job (pass a function made once, not a closure per job).
 */
export function runAfterHooks(
  hooks: readonly JobHook[],
  job: Job,
  outcome: (job: Job) => FinishOutcome,
  onError: (hook: JobHook, err: Error) => void,
): void {
  let built: FinishOutcome | undefined;
  for (const hook of hooks) {
    if (!hook.afterFinish || (hook.applies && !hook.applies(job))) continue;
    try {
      const maybe = hook.afterFinish(job, (built ??= outcome(job)));
      if (maybe && typeof maybe.then === 'function') maybe.catch((err: Error) => onError(hook, err));
    } catch (err) {
      onError(hook, err as Error);
    }
  }
}
