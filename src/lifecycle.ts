import { DeadlineError, withDeadline } from './deadline.js';
import type { Logger } from './logger.js';

type Cleanup = () => Promise<unknown> | unknown;

/**
 * Owns the cleanups of one process: every Queue, Worker and connection registers here when it is
 * opened; `shutdown()` runs them in reverse order, once, each bounded by a deadline.
 */
export class Lifecycle {
  readonly #cleanups: { name: string; fn: Cleanup; deadlineMs?: number }[] = [];
  #shutdown?: Promise<void>;
  #signalHandler?: (signal: NodeJS.Signals) => void;

  constructor(private readonly logger: Logger) {}

  get stopping(): boolean {
    return this.#shutdown !== undefined;
  }

  /**
   * Registers a cleanup; returns `resource` so opening and registering read as one line.
   * `deadlineMs`: how long this cleanup may take, when it needs longer than shutdown's default
   * (the workers wait SHUTDOWN_TIMEOUT_MS for active jobs, whatever it is).
   */
  add<T>(name: string, resource: T, fn: Cleanup, deadlineMs?: number): T {
    this.#cleanups.push({ name, fn, ...(deadlineMs !== undefined ? { deadlineMs } : {}) });
    return resource;
  }

  /** On SIGTERM/SIGINT: shut down, then call `onDone` (usually exiting). */
  handleSignals(onDone: (signal: NodeJS.Signals) => void): void {
    this.#signalHandler = (signal) => {
      if (this.stopping) {
        this.logger.warn({ signal }, 'Second signal during shutdown: exiting now');
        process.exit(1);
      }
      this.logger.info({ signal }, 'Shutting down');
      void this.shutdown().then(() => onDone(signal));
    };
    process.on('SIGTERM', this.#signalHandler);
    process.on('SIGINT', this.#signalHandler);
  }

  /** Idempotent: every call returns the same promise. */
  shutdown(deadlineMs = 60_000): Promise<void> {
    this.#shutdown ??= this.#run(deadlineMs);
    return this.#shutdown;
  }

  async #run(deadlineMs: number): Promise<void> {
    for (const { name, fn, deadlineMs: own } of this.#cleanups.reverse()) {
      const ms = Math.max(deadlineMs, own ?? 0);
      try {
        await withDeadline(Promise.resolve().then(fn), ms);
      } catch (err) {
        if (err instanceof DeadlineError) this.logger.warn({ name, deadlineMs: ms }, 'Cleanup exceeded its deadline');
        else this.logger.warn({ name, err: (err as Error).message }, 'Cleanup failed');
      }
    }
    if (this.#signalHandler) {
      process.off('SIGTERM', this.#signalHandler);
      process.off('SIGINT', this.#signalHandler);
    }
  }
}
