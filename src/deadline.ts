/**
 * Thrown (by default) when work outlives its deadline. Callers that branch on "did it finish in
 * time" catch this class; callers that want their own error pass `expire`.
 */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/**
 * Settles like `work`, unless `ms` passes first (then rejects with what `expire()` returns). The
 * timer is cleared as soon as the race is decided, so a finished race keeps nothing alive. `ms` of
 * 0 or less (or Infinity) means no deadline.
 *
 * The one place the code base races work against a clock: job timeout, shutdown deadline,
 * lifecycle steps, `client.ready()`, health and metrics probes. (A job's cancellation, which is
 * not a clock, is `JobAbort.race`.)
 */
export function withDeadline<T>(
  work: PromiseLike<T>,
  ms: number,
  expire: () => unknown = () => new DeadlineError(`Did not finish within ${ms} ms`),
): Promise<T> {
  if (!(ms > 0 && Number.isFinite(ms))) return Promise.resolve(work);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      let reason: unknown;
      try {
        reason = expire();
      } catch (err) {
        reason = err;
      }
      settle(() => reject(reason));
    }, ms);
    work.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}
