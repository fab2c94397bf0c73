import type { Job } from 'bullmq';
import type { Continuations, JobRef } from '../continuations/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Queues } from '../queues.js';
import type { JobMoved } from '../schemas/jobs.js';
import type { Cancelled, JobLogs, QueueSummary } from '../schemas/operations.js';
import { cancelChannel, type CancelMessage } from './cancel-signal.js';

/** How long a cancel waits for an active job to end before answering `cancelling`. */
const ACTIVE_CANCEL_WAIT_MS = 5000;

const noJob = (ref: JobRef) => new NotFoundError(`No job ${ref.queue}/${ref.id} (never existed, or removed by retention)`);

/**
 * What the board does, for the client, HTTP and CLI: every operation on existing jobs and queues,
 * each a BullMQ call (remove, promote, retry, retryJobs, pause, resume, clean, getJobLogs,
 * getWorkersCount) plus the center's own parts (continuations, cross-process cancel).
 */
export class Operations {
  constructor(
    private readonly queues: Queues,
    private readonly continuations: Continuations,
  ) {}

  async #job(ref: JobRef): Promise<Job> {
    const job = await this.queues.get(ref.queue).getJob(ref.id);
    if (!job) throw noJob(ref);
    return job;
  }

  /** A job's log lines (its handler's `ctx.log` and `job.log`), oldest first. */
  async logs(ref: JobRef, start: number, limit: number): Promise<JobLogs> {
    const queue = this.queues.get(ref.queue);
    if ((await queue.getJobState(ref.id)) === 'unknown') throw noJob(ref);
    const { logs, count } = await queue.getJobLogs(ref.id, start, start + limit - 1, true);
    return { queue: ref.queue, id: ref.id, lines: logs, total: count };
  }

  /**
   * Cancels or removes a job: waiting, delayed, prioritized or finished → removed; an awaiting
   * continuation → withdrawn; active → its worker aborts `ctx.signal` and fails it with
   * "Cancelled by <actor>" (no retry).
   */
  async cancel(ref: JobRef, actor: string): Promise<Cancelled> {
    const queue = this.queues.get(ref.queue);
    const state = await queue.getJobState(ref.id);
    if (state === 'unknown') {
      if (await this.continuations.withdraw(ref, actor)) return { ...ref, outcome: 'cancelled', state: 'cancelled' };
      throw noJob(ref);
    }
    if (state !== 'active') {
      const job = await queue.getJob(ref.id);
      if (job) {
        try {
          await job.remove();
        } catch (err) {
          // It became active between the state read and the remove: cancel it as active.
          if ((await queue.getJobState(ref.id)) !== 'active') throw err;
          return this.#cancelActive(ref, actor);
        }
      }
      return { ...ref, outcome: 'removed', state: 'removed' };
    }
    return this.#cancelActive(ref, actor);
  }

  async #cancelActive(ref: JobRef, actor: string): Promise<Cancelled> {
    const message: CancelMessage = { queue: ref.queue, id: ref.id, actor };
    await this.queues.redis.publish(cancelChannel(this.queues.config), JSON.stringify(message));
    const queue = this.queues.get(ref.queue);
    const deadline = Date.now() + ACTIVE_CANCEL_WAIT_MS;
    let state = 'active';
    while (Date.now() < deadline) {
      state = await queue.getJobState(ref.id);
      if (state !== 'active') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return { ...ref, outcome: state === 'active' ? 'cancelling' : 'cancelled', state };
  }

  /** Moves a delayed job to waiting now. @throws ConflictError when it is not delayed. */
  async promote(ref: JobRef): Promise<JobMoved> {
    const job = await this.#job(ref);
    const state = await job.getState();
    if (state !== 'delayed') throw new ConflictError(`Only delayed jobs can be promoted; ${ref.queue}/${ref.id} is ${state}`);
    await job.promote();
    return { ...ref, state: await job.getState() };
  }

  /** Retries every failed job of a queue, or only those named `name`. */
  async retryFailed(queueName: string, name?: string): Promise<{ queue: string; retried: number }> {
    const queue = this.queues.get(queueName);
    if (name === undefined) {
      const count = await queue.getFailedCount();
      await queue.retryJobs({ state: 'failed', count: 1000 });
      return { queue: queueName, retried: count };
    }
    let retried = 0;
    const page = 500;
    // Retrying moves jobs out of the failed set, so re-reading from the start pages through it.
    for (let start = 0; ; ) {
      const failed = await queue.getFailed(start, start + page - 1);
      if (failed.length === 0) break;
      let moved = 0;
      for (const job of failed) {
        if (job?.name !== name) continue;
        await job.retry('failed');
        moved++;
      }
      retried += moved;
      start += failed.length - moved;
    }
    return { queue: queueName, retried };
  }

  async pause(queueName: string): Promise<{ name: string; paused: boolean }> {
    const queue = this.queues.get(queueName);
    await queue.pause();
    return { name: queueName, paused: await queue.isPaused() };
  }

  async resume(queueName: string): Promise<{ name: string; paused: boolean }> {
    const queue = this.queues.get(queueName);
    await queue.resume();
    return { name: queueName, paused: await queue.isPaused() };
  }

  /** Removes up to `limit` jobs in `state` older than `olderThanMs` (BullMQ `clean`). */
  async clean(queueName: string, state: 'completed' | 'failed' | 'delayed' | 'waiting' | 'prioritized', olderThanMs: number, limit: number) {
    const queue = this.queues.get(queueName);
    const removed = await queue.clean(olderThanMs, limit, state === 'waiting' ? 'wait' : state);
    return { queue: queueName, state, removed: removed.length };
  }

  async summary(queueName: string): Promise<QueueSummary> {
    const queue = this.queues.get(queueName);
    const [counts, paused, workers, oldest] = await Promise.all([
      queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'),
      queue.isPaused(),
      queue.getWorkersCount(),
      queue.getJobs(['wait'], 0, 0, true),
    ]);
    const first = oldest[0];
    return { name: queueName, paused, counts, workers, oldestWaitingAgeMs: first ? Math.max(0, Date.now() - first.timestamp) : null };
  }

  summaries(): Promise<QueueSummary[]> {
    return Promise.all(this.queues.all().map((q) => this.summary(q.name)));
  }
}
