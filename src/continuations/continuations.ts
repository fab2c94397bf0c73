import type { JobsOptions } from 'bullmq';
import type { Config } from '../config.js';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues.js';
import { ContinuationKeys } from './keys.js';
import { join, type Joined } from './join.js';
import { register, type Registered } from './registration.js';
import { release } from './release.js';
import { sweep } from './sweep.js';
import { CONTINUATION_PREFIX, KEEP_SECONDS, type ContinuationDeps, type ContinueOn, type JobRef } from './types.js';
import { pointerOf } from './pointer.js';
import { runScript } from './scripts.js';

/**
 * Continuations: "run job B after job A finishes", for a job A that already exists (BullMQ flows
 * only link jobs created together). The client registers them (registration.ts), the worker
 * releases them through one job hook (hook.ts) and sweeps what a crashed worker left (sweep.ts).
 */
export class Continuations {
  readonly deps: ContinuationDeps;

  constructor(queues: Queues, logger: Logger) {
    const config: Config = queues.config;
    this.deps = { config, queues, keys: new ContinuationKeys(config), logger };
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
  ): Promise<Registered & { shard?: number }> {
    const { queues } = this.deps;
    const r = await register(this.deps, await this.#physical(parent), name, data, options);
    // Inside, queues are BullMQ queues (a sharded queue's shards); callers see the logical queue.
    const { queue, shard } = queues.logicalOf(r.queue);
    return { ...r, queue, ...(queues.isSharded(queue) ? { shard } : {}) };
  }

  /**
   * Registers `name(data)` to run once after every one of `parents` finished (a join, see join.ts).
   * @param key idempotency key (the join's id).
   */
  async join(parents: readonly JobRef[], name: string, data: unknown, options: { on: ContinueOn; key: string }): Promise<Joined> {
    const physical: JobRef[] = [];
    for (const p of parents) physical.push(await this.#physical(p));
    const r = await join(this.deps, physical, name, data, { on: options.on, joinId: options.key });
    return { ...r, queue: this.deps.queues.logicalOf(r.queue).queue };
  }

  /**
   * The parent as the continuation scripts need it: its BullMQ queue (on a sharded queue, the shard
   * holding it, so the scripts run in its slot). Unsharded queues are used as they are.
   * @throws NotFoundError when a sharded queue has no such job (and it is no awaiting continuation).
   */
  async #physical(ref: JobRef): Promise<JobRef> {
    const { queues } = this.deps;
    if (!queues.isSharded(ref.queue)) return ref;
    const found = await queues.locate(ref.queue, ref.id);
    if (found) return { queue: found.queue.name, id: ref.id };
    if (!ref.id.startsWith(CONTINUATION_PREFIX)) throw new NotFoundError(`Parent job ${ref.queue}/${ref.id} does not exist`);
    // An awaiting continuation: it will be added to (and is registered under) the shard its id had
    // when it was registered.
    const pointed = await pointerOf(this.deps, ref.queue, ref.id);
    return { queue: pointed?.queue ?? queues.forJob(ref.queue, ref.id).name, id: ref.id };
  }

  /** The stored spec of a continuation that has not been released yet, as job info. */
  async awaiting(ref: JobRef): Promise<{ name: string; data: unknown; state: string; createdAt: number } | undefined> {
    if (!ref.id.startsWith(CONTINUATION_PREFIX)) return undefined;
    const { queues, keys } = this.deps;
    const pointed = await pointerOf(this.deps, ref.queue, ref.id);
    if (!pointed || pointed.parentQueue === 'released') return undefined;
    const h = await queues.redis.hgetall(keys.spec(pointed.parentQueue, pointed.queue, ref.id));
    if (!h.name || h.state !== 'awaiting') return undefined;
    return { name: h.name, data: JSON.parse(h.data ?? '{}'), state: 'awaiting', createdAt: Number(h.createdAt) };
  }

  /**
   * Withdraws a continuation that still awaits its parent (one script on its spec, in the parent's
   * slot), so a release racing with it either finds it withdrawn or has already released it.
   * @returns true when it was awaiting and will now never run.
   */
  async withdraw(ref: JobRef, by: string): Promise<boolean> {
    if (!ref.id.startsWith(CONTINUATION_PREFIX)) return false;
    const { queues, keys } = this.deps;
    const pointed = await pointerOf(this.deps, ref.queue, ref.id);
    if (!pointed || pointed.parentQueue === 'released') return false;
    const { queue, parentQueue } = pointed;
    const done = await runScript(queues.redis, 'jcContWithdraw', [keys.spec(parentQueue, queue, ref.id)], [by, KEEP_SECONDS]);
    if (done !== 1) return false;
    // Continuations registered on this one would otherwise await a job that never comes (its
    // pointer would name its parent forever): it ended for good, as failed ("Cancelled by …"), so
    // theirs are released now (on: success → cancelled, on: finished → run).
    await queues.redis.set(keys.pointer(queue, ref.id), 'released', 'EX', KEEP_SECONDS);
    await release(this.deps, { queue, id: ref.id }, { state: 'failed', returnValue: null, failedReason: `Cancelled by ${by}` });
    return true;
  }

  /** Releases the continuations of `parent` if it has finished. Safe to call any number of times, from any process. */
  async resolve(parent: JobRef): Promise<void> {
    const { queues } = this.deps;
    const found = queues.isSharded(parent.queue) ? await queues.locate(parent.queue, parent.id) : undefined;
    await release(this.deps, found ? { queue: found.queue.name, id: parent.id } : parent);
  }

  /** Checks the parents that are due (see sweep.ts); run periodically by every worker. */
  sweep(): Promise<number> {
    return sweep(this.deps);
  }
}
