import type { Logger } from '../logger.js';
import { createRedis, type RedisClient } from '../redis/connection.js';
import type { ContinuationDeps } from './types.js';

/**
 * The parents that have unreleased continuations, in memory, so that a worker finishing a job can
 * tell without a Redis request whether anybody continues it (almost nobody does).
 *
 * Kept current by the registration and release scripts' announcements (pub/sub). On every
 * (re)connect of the subscription the set is reloaded from the `pending` hashes, after
 * subscribing, so nothing registered meanwhile is missed. While the subscription is down,
 * `known` is false and the hook treats every job as possibly continued (it marks each finished
 * job due for the sweep): slower, never lossy. A message that arrives after the worker already
 * finished the parent is covered by the registration itself (it reads the parent's state in the
 * same script) and by its due entry (checked 2 s later).
 */
export class ContinuedParents {
  readonly #byQueue = new Map<string, Set<string>>();
  readonly #sub: RedisClient;
  #live = false;
  #started = false;

  constructor(
    private readonly deps: ContinuationDeps,
    private readonly logger: Logger,
  ) {
    this.#sub = createRedis(deps.config, 'worker', logger);
  }

  /** True while the set is known to be complete (subscribed and loaded). */
  get known(): boolean {
    return this.#live;
  }

  has(queue: string, id: string): boolean {
    return this.#byQueue.get(queue)?.has(id) ?? false;
  }

  /** Subscribes and loads; resolves once the set is known. */
  async start(): Promise<void> {
    const channel = this.deps.keys.channel;
    this.#sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      const slash = message.indexOf('/');
      const queue = message.slice(1, slash);
      const id = message.slice(slash + 1);
      if (message[0] === '+') this.#set(queue).add(id);
      else this.#byQueue.get(queue)?.delete(id);
    });
    this.#sub.on('close', () => {
      this.#live = false;
    });
    this.#sub.on('ready', () => {
      // ioredis re-subscribes on reconnect before 'ready'; reload whatever was missed meanwhile.
      if (this.#started && !this.#live) void this.#load().catch((err: Error) => this.logger.warn({ err: err.message }, 'Could not load continued parents; retrying on reconnect'));
    });
    await this.#sub.subscribe(channel);
    await this.#load();
    this.#started = true;
  }

  async #load(): Promise<void> {
    const { queues, keys } = this.deps;
    for (const queue of queues.all()) {
      const ids = await queues.redis.hkeys(keys.pending(queue.name));
      const set = this.#set(queue.name);
      for (const id of ids) set.add(id);
    }
    this.#live = true;
  }

  #set(queue: string): Set<string> {
    let set = this.#byQueue.get(queue);
    if (!set) this.#byQueue.set(queue, (set = new Set()));
    return set;
  }

  async close(): Promise<void> {
    this.#live = false;
    await this.#sub.quit().catch(() => this.#sub.disconnect());
  }
}
