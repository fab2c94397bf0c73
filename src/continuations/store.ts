import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { NotFoundError, ValidationError } from '../errors.js';
import { CONTINUATION_PREFIX, type ContinueOn, type JobRef, type Outcome, type ParentOutcome } from './types.js';
import { parsePayload } from '../jobs/contract.js';
import { contractFor, jobOptions, validateJobId } from '../jobs/options.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues.js';
import { centerKey } from '../redis/connection.js';

/*
 * Continuations: "run job B after job A finishes", for a job A that already exists. BullMQ flows
 * only create parent and children together, so this is the center's own mechanism:
 *
 * - registering stores B's spec in a hash, links it to A (`cont-of` set) and marks A as having
 *   pending continuations (`cont-pending` set); then it checks A at once, so a parent that already
 *   finished releases B immediately;
 * - releasing adds B to its queue with the deterministic job id `cont-…`, so releasing twice
 *   (a completion hook and a sweeper racing, or a retry after a crash) adds it once;
 * - every worker releases continuations when a job finishes, and sweeps `cont-pending`
 *   periodically, so a worker killed between A's completion and B's release loses nothing.
 *
 * Each step is a single-key command, so this also works on a Redis Cluster.
 */

const KEEP_SECONDS = 14 * 24 * 3600;


export class Continuations {
  constructor(
    private readonly queues: Queues,
    private readonly logger: Logger,
  ) {}

  #key(...parts: string[]): string {
    return centerKey(this.queues.config, ...parts);
  }

  #specKey(ref: JobRef): string {
    return this.#key('cont', ref.queue, ref.id);
  }

  /**
   * Registers `name(data)` to run after `parent` finishes (`on: 'success'` only if it completed).
   * @param key idempotency key: registering twice with the same key registers once.
   */
  async register(
    parent: JobRef,
    name: string,
    data: unknown,
    options: { on?: ContinueOn; key?: string; opts?: JobsOptions } = {},
  ): Promise<{ id: string; queue: string; name: string; state: string; duplicate?: boolean }> {
    const contract = contractFor(name);
    const payload = parsePayload(contract, data);
    const on = options.on ?? 'success';
    if (on !== 'success' && on !== 'finished') {
      throw new ValidationError('on must be "success" or "finished"', [
        { field: 'on', message: 'on must be "success" or "finished"' },
      ]);
    }
    this.queues.get(parent.queue);
    const id = CONTINUATION_PREFIX + (options.key ? validateJobId(options.key) : randomUUID());
    const ref = { queue: contract.queue, id };
    const redis = this.queues.redis;
    if (!(await this.#exists(parent))) {
      throw new NotFoundError(`Parent job ${parent.queue}/${parent.id} does not exist`);
    }
    const created = await redis.hsetnx(this.#specKey(ref), 'name', contract.name);
    if (created) {
      await redis.hset(this.#specKey(ref), {
        data: JSON.stringify(payload),
        opts: JSON.stringify(jobOptions(contract, options.opts)),
        parentQueue: parent.queue,
        parentId: parent.id,
        on,
        state: 'awaiting',
        createdAt: String(Date.now()),
      });
      await redis.sadd(this.#key('cont-of', parent.queue, parent.id), `${ref.queue}/${ref.id}`);
      await redis.sadd(this.#key('cont-pending'), `${parent.queue}/${parent.id}`);
    }
    await this.resolve(parent);
    const [stored, spec] = await Promise.all([this.queues.get(ref.queue).getJob(id), redis.hmget(this.#specKey(ref), 'name', 'state')]);
    // Released (or cancelled, which is added too so that it shows up failed): report the job itself.
    const state = stored ? await stored.getState() : (spec[1] ?? 'awaiting');
    return {
      id,
      queue: contract.queue,
      name: spec[0] ?? contract.name,
      state,
      ...(created ? {} : { duplicate: true }),
    };
  }

  async #exists(ref: JobRef): Promise<boolean> {
    if (await this.queues.get(ref.queue).getJob(ref.id)) return true;
    return ref.id.startsWith(CONTINUATION_PREFIX) && (await this.queues.redis.exists(this.#specKey(ref))) === 1;
  }

  /** The stored spec of a continuation that has not been released yet, as job info. */
  async awaiting(ref: JobRef): Promise<{ name: string; data: unknown; state: string; createdAt: number } | undefined> {
    if (!ref.id.startsWith(CONTINUATION_PREFIX)) return undefined;
    const h = await this.queues.redis.hgetall(this.#specKey(ref));
    if (!h.name || h.state !== 'awaiting') return undefined;
    return { name: h.name, data: JSON.parse(h.data ?? '{}'), state: 'awaiting', createdAt: Number(h.createdAt) };
  }

  /**
   * What the worker needs before running a continuation: its parent's outcome, and whether it
   * was cancelled because the parent failed. Undefined for ordinary jobs.
   */
  async contextFor(ref: JobRef): Promise<{ parent: ParentOutcome; cancelled: string | null } | undefined> {
    if (!ref.id.startsWith(CONTINUATION_PREFIX)) return undefined;
    const h = await this.queues.redis.hgetall(this.#specKey(ref));
    if (!h.parentId || !h.parentQueue) return undefined;
    const parent: ParentOutcome = {
      queue: h.parentQueue,
      id: h.parentId,
      state: (h.parentState as ParentOutcome['state']) ?? 'missing',
      returnValue: h.parentReturnValue ? JSON.parse(h.parentReturnValue) : null,
      failedReason: h.parentFailedReason ?? null,
    };
    const cancelled =
      h.state === 'cancelled'
        ? `Cancelled: parent job ${parent.queue}/${parent.id} ${parent.state === 'missing' ? 'no longer exists' : `failed (${parent.failedReason ?? 'no reason'})`} and this continuation runs on success only`
        : null;
    return { parent, cancelled };
  }

  /**
   * Releases the continuations of `parent` if it has finished. `hint` is the outcome the worker
   * just saw, used when retention already removed the job from Redis. Safe to call any number of
   * times, from any process.
   */
  async resolve(parent: JobRef, hint?: Outcome): Promise<void> {
    const outcome = await this.#outcome(parent, hint);
    if (!outcome) return;
    const linksKey = this.#key('cont-of', parent.queue, parent.id);
    await this.#releaseAll(parent, await this.queues.redis.smembers(linksKey), outcome);
  }

  async #releaseAll(parent: JobRef, members: string[], outcome: Outcome): Promise<void> {
    const redis = this.queues.redis;
    await Promise.all(
      members.map((member) => {
        const slash = member.indexOf('/');
        return this.#release({ queue: member.slice(0, slash), id: member.slice(slash + 1) }, parent, outcome);
      }),
    );
    await Promise.all([
      redis.srem(this.#key('cont-pending'), `${parent.queue}/${parent.id}`),
      redis.expire(this.#key('cont-of', parent.queue, parent.id), KEEP_SECONDS),
    ]);
  }

  /**
   * What a worker calls for every job it finishes: one SMEMBERS for the (usual) job that nobody
   * continues. Racing a registration is safe: registering links first and then reads the parent's
   * state, so a link written after this check is released by the registration itself.
   */
  async onFinished(parent: JobRef, outcome: Outcome): Promise<void> {
    const members = await this.queues.redis.smembers(this.#key('cont-of', parent.queue, parent.id));
    // The worker has just seen the outcome: no need to read the job and its state back.
    if (members.length > 0) await this.#releaseAll(parent, members, outcome);
  }

  async #outcome(parent: JobRef, hint?: Outcome): Promise<Outcome | undefined> {
    const job = await this.queues.get(parent.queue).getJob(parent.id);
    if (job) {
      const state = await job.getState();
      if (state === 'completed') return { state, returnValue: job.returnvalue ?? null, failedReason: null };
      if (state === 'failed') return { state, returnValue: null, failedReason: job.failedReason ?? 'unknown reason' };
      return undefined;
    }
    // Retention may remove a job in the same step that finishes it: trust what the worker saw.
    if (hint) return hint;
    if (parent.id.startsWith(CONTINUATION_PREFIX)) {
      const state = await this.queues.redis.hget(this.#specKey(parent), 'state');
      if (state === 'awaiting') return undefined;
    }
    return { state: 'missing', returnValue: null, failedReason: 'parent job no longer exists' };
  }

  async #release(ref: JobRef, parent: JobRef, outcome: Outcome): Promise<void> {
    const redis = this.queues.redis;
    const key = this.#specKey(ref);
    const h = await redis.hgetall(key);
    if (!h.name || h.state !== 'awaiting') return;
    const cancelled = h.on === 'success' && outcome.state !== 'completed';
    await redis.hset(key, {
      parentState: outcome.state,
      parentReturnValue: JSON.stringify(outcome.returnValue ?? null),
      ...(outcome.failedReason ? { parentFailedReason: outcome.failedReason } : {}),
    });
    // A cancelled continuation is still added, so that it shows up failed with its reason (on the
    // board too) instead of waiting forever; the worker fails it without running the handler.
    const opts: JobsOptions = { ...JSON.parse(h.opts ?? '{}'), jobId: ref.id };
    if (cancelled) opts.attempts = 1;
    await this.queues.get(ref.queue).add(h.name, JSON.parse(h.data ?? '{}'), opts);
    await Promise.all([redis.hset(key, 'state', cancelled ? 'cancelled' : 'released'), redis.expire(key, KEEP_SECONDS)]);
    this.logger.debug(
      { continuation: `${ref.queue}/${ref.id}`, parent: `${parent.queue}/${parent.id}`, cancelled },
      'Continuation released',
    );
  }

  /** Resolves every parent with pending continuations; run periodically by every worker. */
  async sweep(): Promise<number> {
    const redis = this.queues.redis;
    let cursor = '0';
    let checked = 0;
    do {
      const [next, members] = await redis.sscan(this.#key('cont-pending'), cursor, 'COUNT', 200);
      cursor = next;
      for (const member of members) {
        const slash = member.indexOf('/');
        const ref = { queue: member.slice(0, slash), id: member.slice(slash + 1) };
        try {
          await this.resolve(ref);
        } catch (err) {
          this.logger.warn({ parent: member, err: (err as Error).message }, 'Continuation sweep failed for a parent');
        }
        checked++;
      }
    } while (cursor !== '0');
    return checked;
  }
}
