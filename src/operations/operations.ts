import type { Job, Queue } from 'bullmq';
import { batchOf, type Batches } from '../batches/batches.js';
import type { Continuations, JobRef } from '../continuations/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Queues } from '../queues.js';
import type { JobMoved } from '../schemas/jobs.js';
import type { Cancelled, JobLogs, QueueSummary } from '../schemas/operations.js';
import { CANCEL_MARK_MS, cancelChannel, cancelledBy, cancelMarkKey, type CancelMessage } from './cancel-signal.js';
import { dueAt } from '../jobs/due.js';

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
    private readonly batches: Batches,
  ) {}

  /** The job on whichever shard holds it (a sharded queue's logical name reads its shards). */
  async #job(ref: JobRef): Promise<Job> {
    const job = await this.queues.findJob(ref.queue, ref.id);
    if (!job) throw noJob(ref);
    return job;
  }

  /**
   * The BullMQ queues a queue operation acts on: every shard of a sharded queue (users name the
   * logical queue, `batch`), or the one shard a BullMQ name names (`batch.3`, as the board shows it).
   */
  #targets(name: string): Queue[] {
    return this.queues.logicalOf(name).queue === name ? this.queues.shardsOf(name) : [this.queues.get(name)];
  }

  /** A job's log lines (its handler's `ctx.log` and `job.log`), oldest first. */
  async logs(ref: JobRef, start: number, limit: number): Promise<JobLogs> {
    const found = await this.queues.locate(ref.queue, ref.id);
    if (!found) throw noJob(ref);
    const { logs, count } = await found.queue.getJobLogs(ref.id, start, start + limit - 1, true);
    return { queue: ref.queue, id: ref.id, lines: logs, total: count };
  }

  /**
   * Cancels or removes a job: waiting, delayed, prioritized or finished → removed; an awaiting
   * continuation → withdrawn; active → its worker aborts `ctx.signal` and fails it with
   * "Cancelled by <actor>" (no retry).
   */
  async cancel(given: JobRef, actor: string): Promise<Cancelled> {
    // The answer names the job: only queue and id of what the caller passed (an enqueue result also
    // has name, duplicate, join…, which a cancel result would otherwise repeat as its own).
    const ref = { queue: given.queue, id: given.id };
    const found = await this.queues.locate(ref.queue, ref.id);
    if (!found) {
      // Not a job yet: an awaiting continuation, or a batch's (a join's) then job.
      if ((await this.continuations.withdraw(ref, actor)) || (await this.batches.cancelThen(ref, actor))) {
        return { ...ref, outcome: 'cancelled', state: 'cancelled' };
      }
      throw noJob(ref);
    }
    return found.state === 'active' ? this.#cancelActive(ref, found.queue, actor) : this.#remove(ref, found.queue, actor);
  }

  /**
   * Removes a job that is not running. One that became active meanwhile is cancelled as active,
   * unless `afterAbort` (the abort was sent already, and its mark stands for the run it began).
   */
  async #remove(ref: JobRef, queue: Queue, actor: string, afterAbort = false): Promise<Cancelled> {
    const job = await queue.getJob(ref.id);
    if (job) {
      try {
        await job.remove();
      } catch (err) {
        if ((await queue.getJobState(ref.id)) !== 'active') throw err;
        return afterAbort ? { ...ref, outcome: 'cancelling', state: 'active' } : this.#cancelActive(ref, queue, actor);
      }
      if (afterAbort) await this.queues.redis.del(cancelMarkKey(this.queues.config, queue.name, ref.id));
      // Its continuations would wait for the sweep's next look at it (up to an hour): settle them
      // now, as for a parent that no longer exists (on: success → cancelled, on: finished → run).
      // A finished job was released already: this changes nothing then.
      await this.continuations.resolve({ queue: queue.name, id: ref.id });
      // A batch's job that will never run counts as failed now, not at the batch sweep's
      // "missing for a minute" rule. A finished one was counted already: this changes nothing then.
      const batch = batchOf(ref.id);
      if (batch) await this.batches.record(batch, `${queue.name}/${ref.id}`, 'failed');
    }
    return { ...ref, outcome: 'removed', state: 'removed' };
  }

  async #cancelActive(ref: JobRef, queue: Queue, actor: string): Promise<Cancelled> {
    // Workers match the job by its BullMQ queue (the shard), as they run it.
    const message: CancelMessage = { queue: queue.name, id: ref.id, actor };
    const mark = cancelMarkKey(this.queues.config, queue.name, ref.id);
    await this.queues.redis.set(mark, actor, 'PX', CANCEL_MARK_MS);
    await this.queues.redis.publish(cancelChannel(this.queues.config), JSON.stringify(message));
    const deadline = Date.now() + ACTIVE_CANCEL_WAIT_MS;
    let state = 'active';
    while (Date.now() < deadline) {
      state = await queue.getJobState(ref.id);
      if (state !== 'active') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Still active: its worker may be gone, and the mark cancels the run BullMQ will make of it.
    if (state === 'active') return { ...ref, outcome: 'cancelling', state };
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') {
      // Back to waiting or delayed: its run failed on its own as the abort was sent, and it has
      // attempts left. Nothing aborted it, and it would run again: remove it.
      return this.#remove(ref, queue, actor, true);
    }
    await this.queues.redis.del(mark);
    if (state === 'failed' && (await queue.getJob(ref.id))?.failedReason?.startsWith(cancelledBy(''))) {
      return { ...ref, outcome: 'cancelled', state };
    }
    // It ended before the abort reached it (or, `unknown`, it ended and retention removed it at once,
    // so whether the abort ended it is not known): nothing is left to cancel, and nothing was.
    return { ...ref, outcome: 'finished', state };
  }

  /** Moves a delayed job to waiting now. @throws ConflictError when it is not delayed. */
  async promote(ref: JobRef): Promise<JobMoved> {
    const job = await this.#job(ref);
    const state = await job.getState();
    if (state !== 'delayed') throw new ConflictError(`Only delayed jobs can be promoted; ${ref.queue}/${ref.id} is ${state}`);
    await job.promote();
    return { queue: ref.queue, id: ref.id, state: await job.getState() };
  }

  /** Retries every failed job of a queue (of every shard), or only those named `name`. */
  async retryFailed(queueName: string, name?: string): Promise<{ queue: string; retried: number }> {
    let retried = 0;
    for (const queue of this.#targets(queueName)) retried += await this.#retryFailedOf(queue, name);
    return { queue: queueName, retried };
  }

  async #retryFailedOf(queue: Queue, name: string | undefined): Promise<number> {
    if (name === undefined) {
      const count = await queue.getFailedCount();
      await queue.retryJobs({ state: 'failed', count: 1000 });
      return count;
    }
    // The failed jobs of that name as they stand now, then each retried once. Retrying while paging
    // re-read the failed set from the start, so a job that failed again at once (a worker was quick)
    // was retried again and counted twice, and the loop ran for as long as the worker kept up.
    const named = new Map<string, Job>();
    const page = 500;
    for (let start = 0; ; start += page) {
      const failed = await queue.getFailed(start, start + page - 1);
      for (const job of failed) if (job?.name === name && job.id) named.set(job.id, job);
      if (failed.length < page) break;
    }
    let retried = 0;
    for (const [id, job] of named) {
      try {
        await job.retry('failed');
        retried++;
      } catch (err) {
        // Retried or removed by someone else meanwhile: not ours to count.
        if ((await queue.getJobState(id)) === 'failed') throw err;
      }
    }
    return retried;
  }

  /** Pauses a queue (every shard): `paused` is true once all of them are. */
  async pause(queueName: string): Promise<{ name: string; paused: boolean }> {
    const queues = this.#targets(queueName);
    await Promise.all(queues.map((q) => q.pause()));
    return { name: queueName, paused: await this.#paused(queues) };
  }

  async resume(queueName: string): Promise<{ name: string; paused: boolean }> {
    const queues = this.#targets(queueName);
    await Promise.all(queues.map((q) => q.resume()));
    return { name: queueName, paused: await this.#paused(queues) };
  }

  /** True when every one of `queues` is paused (a queue some of whose shards still run is not). */
  async #paused(queues: readonly Queue[]): Promise<boolean> {
    return (await Promise.all(queues.map((q) => q.isPaused()))).every(Boolean);
  }

  /** Removes up to `limit` jobs in `state` older than `olderThanMs` (BullMQ `clean`), over every shard. */
  async clean(queueName: string, state: 'completed' | 'failed' | 'delayed' | 'waiting' | 'prioritized', olderThanMs: number, limit: number) {
    let removed = 0;
    for (const queue of this.#targets(queueName)) {
      if (removed >= limit) break;
      removed += (await queue.clean(olderThanMs, limit - removed, state === 'waiting' ? 'wait' : state)).length;
    }
    return { queue: queueName, state, removed };
  }

  /** Counts summed over the shards, `paused` when all are, workers of every shard, the oldest waiting job of any. */
  async summary(queueName: string): Promise<QueueSummary> {
    const queues = this.#targets(queueName);
    const parts = await Promise.all(
      queues.map((queue) =>
        Promise.all([
          queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'),
          queue.isPaused(),
          queue.getWorkersCount(),
          queue.getJobs(['wait'], 0, 0, true),
        ]),
      ),
    );
    const counts: Record<string, number> = {};
    let oldest: number | undefined;
    for (const [c, , , first] of parts) {
      for (const [state, n] of Object.entries(c)) counts[state] = (counts[state] ?? 0) + n;
      const t = first[0] ? dueAt(first[0]) : undefined;
      if (t !== undefined && (oldest === undefined || t < oldest)) oldest = t;
    }
    return {
      name: queueName,
      paused: parts.every(([, paused]) => paused),
      counts,
      workers: parts.reduce((a, [, , w]) => a + w, 0),
      oldestWaitingAgeMs: oldest === undefined ? null : Math.max(0, Date.now() - oldest),
      ...(queues.length > 1 ? { shards: queues.length } : {}),
    };
  }

  /** One summary per queue users name (a sharded queue's shards summed under its name). */
  summaries(): Promise<QueueSummary[]> {
    return Promise.all(this.queues.catalog.queueNames.map((name) => this.summary(name)));
  }
}
