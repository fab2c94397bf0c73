/**
 * Thrown (by default) when work outlives its deadline. Callers that branch on "did it finish in
 * time" catch this class; callers that want their own error pass `expire`.
 */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/**
 * Settles like `work`, unless `ms` passes first (then rejects with what `expire()` returns) or
 * `cancel` rejects first (then rejects with its reason). The timer is cleared as soon as the race
 * is decided, so a finished race keeps nothing alive. `ms` of 0 or less (or Infinity) means no
 * deadline.
 *
 * The one place the code base races work against a clock: job timeout, shutdown deadline,
 * lifecycle steps, `client.ready()`, health and metrics probes.
 */
export function withDeadline<T>(
  work: PromiseLike<T>,
  ms: number,
  expire: () => unknown = () => new DeadlineError(`Did not finish within ${ms} ms`),
  cancel?: Promise<never>,
): Promise<T> {
  const timed = ms > 0 && Number.isFinite(ms);
  if (!timed && !cancel) return Promise.resolve(work);
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    if (timed) {
      timer = setTimeout(() => {
        let reason: unknown;
        try {
          reason = expire();
        } catch (err) {
          reason = err;
        }
        settle(() => reject(reason));
      }, ms);
    }
    work.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
    cancel?.catch((err: unknown) => settle(() => reject(err)));
  });
}
