/**
 * A job's cancellation (timeout, shutdown, a cancel request). Built for the per-job path, where
 * every allocation is paid by every no-op job: nothing here allocates until it is needed.
 * - The AbortController behind `signal` is created only when the handler reads `ctx.signal`
 *   (Node's AbortController costs several µs per job).
 * - `race` makes one promise per run; an abort rejects it directly, so there is no standing
 *   "aborted" promise per job.
 */
export class JobAbort {
  aborted = false;
  reason: unknown;
  #reject: ((reason: unknown) => void) | undefined;
  #controller: AbortController | undefined;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  /**
   * Settles like `work`, unless the job is aborted first: then it rejects with the abort's reason
   * at once, whether or not the handler listens to its signal. One race per JobAbort.
   */
  race<T>(work: Promise<T>): Promise<T> {
    // A handler from plain JavaScript may return a value, not a promise (TypeScript rules it out).
    if (!(work instanceof Promise)) work = Promise.resolve(work);
    if (this.aborted) {
      work.catch(() => {}); // let go of: its outcome no longer matters, nor may it go unhandled
      return Promise.reject(this.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      work.then(resolve, reject);
    });
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.#reject?.(reason);
  }
}
