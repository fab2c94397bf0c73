import { Queue } from 'bullmq';
import { repeatStrategy } from './cron/repeat-strategy.js';
import type { Config } from './config.js';
import { queueNames } from './contracts/index.js';
import { NotFoundError } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createRedis, queuePrefix, type RedisClient } from './redis/connection.js';

/**
 * One BullMQ `Queue` per declared queue, sharing one fail-fast connection. Everything that adds or
 * reads jobs (client, producer, server) goes through this, so prefixes and connections agree.
 */
export class Queues {
  readonly redis: RedisClient;
  readonly #queues = new Map<string, Queue>();

  constructor(
    readonly config: Config,
    readonly logger: Logger,
    lifecycle?: Lifecycle,
  ) {
    this.redis = createRedis(config, 'producer', logger);
    for (const name of queueNames) {
      // The center's repeat strategy on every Queue too: an upsert computes the first tick with it.
      const queue = new Queue(name, { connection: this.redis, prefix: queuePrefix(config, name), settings: { repeatStrategy } });
      queue.on('error', (err) => logger.debug({ queue: name, err: err.message }, 'Queue error'));
      this.#queues.set(name, queue);
    }
    lifecycle?.add('queues', this, () => this.close());
  }

  /**
   * Resolves once the connection is ready. The connection fails fast while down, so a process
   * waits here at start instead of failing its first commands.
   */
  async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => this.redis.once('ready', () => resolve()));
  }

  /** @throws NotFoundError for a queue no contract declares. */
  get(name: string): Queue {
    const queue = this.#queues.get(name);
    if (!queue) {
      throw new NotFoundError(`Unknown queue ${JSON.stringify(name)}; known queues: ${queueNames.join(', ')}`);
    }
    return queue;
  }

  all(): Queue[] {
    return [...this.#queues.values()];
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.all().map((q) => q.close()));
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
