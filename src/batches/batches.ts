import { createHash } from 'node:crypto';
import stableStringify from 'safe-stable-stringify';
import type { JobsOptions } from 'bullmq';
import { BATCH_JOB_PREFIX, BATCH_THEN_PREFIX } from '../jobs/center-ids.js';
import { ConflictError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues.js';
import { centerKey } from '../redis/connection.js';
import { RedisScript } from '../redis/script.js';
import type { BatchStatus } from '../schemas/batch.js';

/*
 * Batches (fan-in): N jobs and one `then` job that runs once all N have finished.
 *
 * - A batch is a hash and a set under its own hash tag (`{bat-<id>}`), so on a Cluster every
 *   step on it is one script on one slot. Its jobs live in their queues as usual, with ids
 *   `bat-<batch>-<index>`: the worker's batch hook tells them apart by that prefix, so other jobs
 *   pay nothing.
 * - When a job ends for good (completed, or failed with no attempts left), one script adds it to
 *   the batch's `done` set (a second report of the same job changes nothing) and counts it; the
 *   report that completes the set also claims `fired` (HSETNX), so exactly one caller adds `then`.
 *   `then` has a deterministic id, so adding it again after a crash adds nothing.
 * - A worker killed between BullMQ storing a job's outcome and reporting it loses nothing: every
 *   worker sweeps the open batches, reads the states of the jobs not reported yet, and reports them.
 */

export { BATCH_JOB_PREFIX, BATCH_THEN_PREFIX };
/** A batch id is a UUID (36 characters). */
const ID_LENGTH = 36;
/** How long after its last report the sweep looks at a batch: the workers' own reports come first. */
const GRACE_MS = 3000;
/** A job of the batch that still does not exist this long after creation is counted as failed (the creating client died). */
const MISSING_AFTER_MS = 60_000;

/** Cancels a batch's then before it fires: atomic with RECORD, which fires once (sets `fired`). */
const CANCEL_THEN = new RedisScript('BatchCancelThen', `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'fired') or not redis.call('HGET', KEYS[1], 'then') then return 0 end
redis.call('HSET', KEYS[1], 'fired', ARGV[2], 'thenState', 'cancelled', 'withdrawn', ARGV[1])
return 1
`);

const RECORD = new RedisScript('BatchRecord', `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown' end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 'seen' end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
if redis.call('SCARD', KEYS[2]) >= tonumber(redis.call('HGET', KEYS[1], 'total')) then
  if redis.call('HSETNX', KEYS[1], 'fired', ARGV[3]) == 1 then return 'fire' end
end
return 'counted'
`);

/**
 * Writes a batch's state unless it exists (a retry with the same key). KEYS: state. ARGV: field,
 * value, … Returns 1 when written, else the existing batch's request fingerprint ('' for a join).
 */
const OPEN_ONCE = new RedisScript('BatchOpenOnce', `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HGET', KEYS[1], 'fingerprint') or '' end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`);

export interface BatchThen {
  readonly queue: string;
  readonly name: string;
  readonly data: unknown;
  readonly opts: JobsOptions;
}

/** The batch id of a member job id, or undefined. */
export function batchOf(jobId: string): string | undefined {
  return jobId.startsWith(BATCH_JOB_PREFIX) ? jobId.slice(BATCH_JOB_PREFIX.length, BATCH_JOB_PREFIX.length + ID_LENGTH) : undefined;
}

/**
 * What proves a retry is the same batch request: a hash of its jobs, `then` and `on`, with object
 * keys in a stable order (a client may send them in another order).
 */
export function batchFingerprint(request: unknown): string {
  return createHash('sha256').update(stableStringify(request) ?? '').digest('base64url');
}

export const memberId = (batchId: string, index: number): string => `${BATCH_JOB_PREFIX}${batchId}-${index}`;
export const thenId = (batchId: string): string => `${BATCH_THEN_PREFIX}${batchId}`;

export class Batches {
  constructor(
    private readonly queues: Queues,
    private readonly logger: Logger,
  ) {}

  #state(id: string): string {
    return centerKey(this.queues.config, `{bat-${id}}`, 'state');
  }

  #done(id: string): string {
    return centerKey(this.queues.config, `{bat-${id}}`, 'done');
  }

  get #open(): string {
    return centerKey(this.queues.config, 'batches-open');
  }

  /**
   * Writes the batch before its jobs exist, so the first job to finish finds it, unless a batch
   * with this id exists (a retry): then it answers which of its jobs finished, which a retry must
   * not add again (retention may have removed them, and BullMQ would add them anew).
   * @param fingerprint the request's, so that a retry proves it is the same batch.
   * @throws ConflictError when a batch with this id exists for another request.
   */
  async open(
    id: string,
    spec: { members: readonly string[]; on: 'success' | 'finished'; then?: BatchThen; fingerprint: string },
  ): Promise<{ created: true } | { created: false; finished: ReadonlySet<string> }> {
    const now = String(Date.now());
    const fields = {
      total: String(spec.members.length),
      completed: '0',
      failed: '0',
      on: spec.on,
      members: JSON.stringify(spec.members),
      ...(spec.then ? { then: JSON.stringify(spec.then) } : {}),
      fingerprint: spec.fingerprint,
      createdAt: now,
      updatedAt: now,
    };
    const opened = await OPEN_ONCE.run(this.queues.redis, [this.#state(id)], Object.entries(fields).flat());
    if (opened !== 1) {
      if (opened !== spec.fingerprint) {
        throw new ConflictError(`Batch ${id} exists for other jobs, then or on: a retry must send the same request; give a new id (or none) for a new batch`);
      }
      const [finished, fired] = await Promise.all([this.queues.redis.smembers(this.#done(id)), this.queues.redis.hget(this.#state(id), 'fired')]);
      // The first call may have been cut off before it listed the batch for the sweep (which
      // reports what crashed workers did not). A fired batch stays off: the sweep would fire it again.
      if (!fired) await this.queues.redis.sadd(this.#open, id);
      return { created: false, finished: new Set(finished) };
    }
    await this.queues.redis.sadd(this.#open, id);
    return { created: true };
  }

  /**
   * Opens a batch over jobs that already exist (a join: `after` with several parents), unless it is
   * open already (a retry with the same key). Its members are reported by the watches on them.
   * @returns false when it existed.
   */
  async openOnce(id: string, spec: { members: readonly string[]; on: 'success' | 'finished'; then: BatchThen }): Promise<boolean> {
    const now = String(Date.now());
    // `join`: its members are reported by watches (and the continuation sweep), not polled by ours.
    const fields = { total: String(spec.members.length), completed: '0', failed: '0', on: spec.on, members: JSON.stringify(spec.members), then: JSON.stringify(spec.then), join: '1', createdAt: now, updatedAt: now };
    const created = (await OPEN_ONCE.run(this.queues.redis, [this.#state(id)], Object.entries(fields).flat())) === 1;
    await this.queues.redis.sadd(this.#open, id);
    return created;
  }

  /** Withdraws a batch that was never accepted (a parent turned out missing): it fires nothing. */
  async withdraw(id: string, reason: string): Promise<void> {
    await this.queues.redis.hset(this.#state(id), 'fired', String(Date.now()), 'thenState', 'cancelled', 'withdrawn', reason);
    await this.queues.redis.srem(this.#open, id);
  }

  /**
   * Cancels the `then` job of a batch or join (`batthen-<id>`) that has not been added yet: it will
   * never run. @returns false when there is no such batch, or its `then` was already added (or cancelled).
   */
  async cancelThen(ref: { id: string }, by: string): Promise<boolean> {
    if (!ref.id.startsWith(BATCH_THEN_PREFIX)) return false;
    const id = ref.id.slice(BATCH_THEN_PREFIX.length);
    const done = await CANCEL_THEN.run(this.queues.redis, [this.#state(id)], [`Cancelled by ${by}`, Date.now()]);
    if (done === 1) await this.queues.redis.srem(this.#open, id);
    return done === 1;
  }

  /** Reports that `member` (`queue/id`) ended for good; adds `then` when it was the last one. */
  async record(id: string, member: string, outcome: 'completed' | 'failed'): Promise<void> {
    const r = await RECORD.run(this.queues.redis, [this.#state(id), this.#done(id)], [member, outcome, Date.now()]);
    if (r === 'fire') await this.#fire(id);
  }

  /** Adds `then` (or records it cancelled) for a batch whose every job has finished. Idempotent. */
  async #fire(id: string): Promise<void> {
    const redis = this.queues.redis;
    const h = await redis.hgetall(this.#state(id));
    if (!h.then || h.withdrawn) {
      await redis.srem(this.#open, id);
      return;
    }
    const then = JSON.parse(h.then) as BatchThen;
    if (h.on === 'success' && Number(h.failed) > 0) {
      await redis.hset(this.#state(id), 'thenState', 'cancelled');
    } else {
      await this.queues.forJob(then.queue, thenId(id)).add(then.name, then.data, { ...then.opts, jobId: thenId(id) });
      await redis.hset(this.#state(id), 'thenAdded', String(Date.now()));
    }
    await redis.srem(this.#open, id);
    this.logger.debug({ batch: id, cancelled: h.on === 'success' && Number(h.failed) > 0 }, 'Batch finished');
  }

  /** What every worker runs periodically: reports what crashed workers did not, finishes fired batches. */
  async sweep(): Promise<number> {
    const redis = this.queues.redis;
    let checked = 0;
    for (const id of await redis.smembers(this.#open)) {
      const h = await redis.hgetall(this.#state(id));
      if (!h.total) {
        await redis.srem(this.#open, id);
        continue;
      }
      if (h.fired) {
        await this.#fire(id);
        continue;
      }
      if (h.join || Date.now() - Number(h.updatedAt) < GRACE_MS) continue;
      checked++;
      const done = new Set(await redis.smembers(this.#done(id)));
      for (const member of JSON.parse(h.members ?? '[]') as string[]) {
        if (done.has(member)) continue;
        const slash = member.indexOf('/');
        const state = await this.queues.get(member.slice(0, slash)).getJobState(member.slice(slash + 1));
        if (state === 'completed' || state === 'failed') await this.record(id, member, state);
        else if (state === 'unknown' && Date.now() - Number(h.createdAt) > MISSING_AFTER_MS) await this.record(id, member, 'failed');
      }
    }
    return checked;
  }

  /**
   * A batch's then job while it does not exist yet (`awaiting`) or never will (`cancelled`), as the
   * fields of its job info; undefined for any other id, and once the job was added (then the job
   * itself answers).
   */
  async pendingThen(ref: { queue: string; id: string }): Promise<{ name: string; data: unknown; state: 'awaiting' | 'cancelled'; createdAt: number } | undefined> {
    if (!ref.id.startsWith(BATCH_THEN_PREFIX)) return undefined;
    const h = await this.queues.redis.hgetall(this.#state(ref.id.slice(BATCH_THEN_PREFIX.length)));
    if (!h.then || h.thenAdded) return undefined;
    const then = JSON.parse(h.then) as BatchThen;
    if (then.queue !== ref.queue) return undefined;
    return { name: then.name, data: then.data, state: h.thenState === 'cancelled' ? 'cancelled' : 'awaiting', createdAt: Number(h.createdAt) };
  }

  /** Progress of a batch, or undefined when there is no such batch. */
  async status(id: string): Promise<BatchStatus | undefined> {
    const h = await this.queues.redis.hgetall(this.#state(id));
    if (!h.total) return undefined;
    const total = Number(h.total);
    const completed = Number(h.completed);
    const failed = Number(h.failed);
    let then: BatchStatus['then'] = null;
    if (h.then) {
      const spec = JSON.parse(h.then) as BatchThen;
      let state = h.thenState ?? 'awaiting';
      if (state === 'awaiting' && h.fired) {
        // On whichever shard holds it: K may have changed since it was added.
        const found = await this.queues.locate(spec.queue, thenId(id));
        state = found ? found.state : h.thenAdded ? 'removed' : 'awaiting';
      }
      then = { queue: spec.queue, id: thenId(id), name: spec.name, state };
    }
    return {
      id,
      total,
      completed,
      failed,
      pending: total - completed - failed,
      on: h.on === 'finished' ? 'finished' : 'success',
      then,
      createdAt: new Date(Number(h.createdAt)).toISOString(),
    };
  }
}
