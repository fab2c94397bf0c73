/**
 * A job's cancellation (timeout, shutdown). The AbortController behind `signal` is created only
 * when the handler reads `ctx.signal`: Node's AbortController costs several µs per job.
 */
export class JobAbort {
  aborted = false;
  reason: unknown;
  /** Rejects with the reason once aborted; the handler is raced against it. */
  readonly promise: Promise<never>;
  #reject!: (reason: unknown) => void;
  #controller: AbortController | undefined;

  constructor() {
    this.promise = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    this.promise.catch(() => {});
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.#reject(reason);
  }
}
