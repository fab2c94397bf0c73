import type { Job } from 'bullmq';
import type { ParentOutcome } from '../continuations/types.js';
import type { Logger } from '../logger.js';
import { scheduledTickOf } from '../schedules/misfire.js';
import type { JobContext } from './handler.js';
import type { JobAbort } from './job-abort.js';
import { jobLogger } from './job-logger.js';

/**
 * The `ctx` a handler gets. A class rather than an object literal on purpose: V8 builds a literal
 * that has getters on a slow path (new accessor pairs on every evaluation), which a CPU profile of
 * the no-op benchmark showed as the largest cost of the processor itself. Here the getters live on
 * the prototype, and `progress` / `parent` are bound functions (handlers may destructure them)
 * made on first use, so a handler that never reports progress allocates neither.
 */
export class RunContext implements JobContext {
  readonly jobId: string;
  readonly attempt: number;
  #log: Logger | undefined;
  #progress: ((value: number | object) => Promise<void>) | undefined;
  #parent: (() => ParentOutcome | undefined) | undefined;
  /** Set once the run has ended (settled, timed out, cancelled, handed back): see `end()`. */
  #ended = false;

  constructor(
    readonly job: Job,
    private readonly abort: JobAbort,
    private readonly where: { readonly queue: string; readonly logger: Logger; readonly jobLogMaxLines: number },
    private readonly parentOutcome: ParentOutcome | undefined,
  ) {
    this.jobId = String(job.id);
    this.attempt = job.attemptsMade + 1;
  }

  /**
   * Called by the processor when the run is over, whether the handler settled or was let go of
   * (timeout, cancel, shutdown). A handler that ignored its signal may go on running: its later
   * `progress` and `ctx.log` lines no longer reach the job (they overwrote the progress of the
   * failed job, or of its next attempt, and added to its log after it ended). Its log lines still
   * go to the worker's log.
   */
  end(): void {
    this.#ended = true;
  }

  get progress(): (value: number | object) => Promise<void> {
    return (this.#progress ??= (value) => (this.#ended ? Promise.resolve() : this.job.updateProgress(value)));
  }

  get parent(): () => ParentOutcome | undefined {
    return (this.#parent ??= () => this.parentOutcome);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Built on first use: most handlers never log, and a child logger costs per job. */
  get log(): Logger {
    const { queue, logger, jobLogMaxLines } = this.where;
    this.#log ??= jobLogger(logger.child({ queue, job: this.jobId, name: this.job.name, attempt: this.attempt }), this.job, jobLogMaxLines, () => this.#ended);
    return this.#log;
  }

  get tick(): Date | undefined {
    return scheduledTickOf(this.job);
  }
}
