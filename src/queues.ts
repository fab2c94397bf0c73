import { randomUUID } from 'node:crypto';
import type { Job, Queue } from 'bullmq';
import { CenterQueue } from './queues/center-job.js';
import { repeatStrategy } from './cron/repeat-strategy.js';
import type { Config } from './config.js';
import { knownOrHint, type JobCatalog } from './jobs/catalog.js';
import { NotFoundError } from './errors.js';
import { isQueueKeyName } from './schemas/fields.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { centerKey, createRedis, queuePrefix, type RedisClient } from './redis/connection.js';
import { checkSelectedDatabase } from './redis/database-check.js';
import { MAX_SHARDS, expectedShard, generatedJobId, parseShardQueueName, routingKey, shardInId, shardOf, shardQueueName } from './queues/shards.js';

/** How stale the shard history may be when a lookup misses or an idempotency key is checked. */
const HISTORY_MAX_AGE_MS = 2000;

/** Where a new job goes: its shard's queue and the id to add it with (undefined: BullMQ's counter). */
export interface Route {
  readonly queue: Queue;
  readonly shard: number;
  readonly jobId: string | undefined;
}

interface Logical {
  readonly name: string;
  /** K of this process's configuration: new jobs go to shards 0..k-1. */
  readonly k: number;
  /** BullMQ queue per shard, opened on first use. */
  readonly shards: Queue[];
  /** Every K any process has declared for this queue (recorded in Redis); shards 0..max-1 are consumed. */
  history: readonly number[];
}

/**
 * The BullMQ queues of every declared queue, sharing one fail-fast connection. Everything that adds or
 * reads jobs (client, producer, server, worker) goes through this, so prefixes, connections and
 * shard routing agree. A queue with K = 1 that was never sharded is one BullMQ queue named as
 * before; see `queues/shards.ts` for sharded queues.
 */
export class Queues {
  /** The wait for the connection's next 'ready', shared by every caller of ready() meanwhile. */
  #connected: Promise<void> | undefined;
  readonly redis: RedisClient;
  readonly #logical = new Map<string, Logical>();
  #history: Promise<void> | undefined;
  #reading: Promise<void> | undefined;
  #historyAt = 0;
  #recorded = false;

  constructor(
    readonly config: Config,
    readonly logger: Logger,
    lifecycle?: Lifecycle,
  ) {
    this.redis = createRedis(config, 'producer', logger);
    for (const name of config.catalog.queueNames) {
      const k = config.shards[name] ?? 1;
      const logical: Logical = { name, k, shards: [], history: [k] };
      this.#logical.set(name, logical);
      for (let i = 0; i < k; i++) this.#open(logical, i);
    }
    lifecycle?.add('queues', this, () => this.close());
  }

  /** The job types of this process (the configuration's catalog). */
  get catalog(): JobCatalog {
    return this.config.catalog;
  }

  #open(logical: Logical, shard: number): Queue {
    let queue = logical.shards[shard];
    if (!queue) {
      const name = shardQueueName(logical.name, shard);
      // The center's repeat strategy on every Queue too: an upsert computes the first tick with it.
      queue = new CenterQueue(name, { connection: this.redis, prefix: queuePrefix(this.config, name), settings: { repeatStrategy } });
      queue.on('error', (err) => this.logger.debug({ queue: name, err: err.message }, 'Queue error'));
      logical.shards[shard] = queue;
    }
    return queue;
  }

  /** The shard a BullMQ shard name (`batch.3`) names; undefined for a logical name. */
  #namedShard(name: string): number | undefined {
    return this.#logical.has(name) ? undefined : parseShardQueueName(name).shard;
  }

  /** The logical queue of a queue name, or of a shard's BullMQ name (`batch.3` → `batch`). */
  #logicalOf(name: string): Logical {
    const logical = this.#logical.get(name) ?? this.#logical.get(parseShardQueueName(name).logical);
    if (!logical) {
      throw new NotFoundError(`Unknown queue ${JSON.stringify(name)}; known queues: ${knownOrHint(this.catalog.queueNames)}`);
    }
    return logical;
  }

  /**
   * Resolves once the connection is ready and the shard history is read. The connection fails
   * fast while down, so a process waits here at start instead of failing its first commands.
   */
  async ready(): Promise<void> {
    if (this.redis.status !== 'ready') {
      // One listener for every caller waiting meanwhile (the board asks per request while Redis is away).
      this.#connected ??= new Promise<void>((resolve) =>
        this.redis.once('ready', () => {
          this.#connected = undefined;
          resolve();
        }),
      );
      await this.#connected;
    }
    // A database the server refused (REDIS_URL): a process stops at start, a client refuses.
    checkSelectedDatabase(this.redis);
    await this.loadShards();
  }

  /**
   * Records this process's K of every sharded queue in Redis (once) and reads every K ever declared,
   * so that shards of a larger K, declared by this or another process, are consumed and searched
   * (changing K loses nothing). K = 1 is not recorded (an unsharded center writes no key of its own
   * here) and always counts as declared: shard 0 is the unsharded queue. Read once, again when older
   * than `maxAgeMs`, and after a failure.
   */
  loadShards(maxAgeMs = Infinity): Promise<void> {
    if (this.#history && Date.now() - this.#historyAt <= maxAgeMs) return this.#history;
    // A read already under way serves everyone who asks meanwhile (a bulk enqueue of many keyed
    // jobs asks once per job): one read, not one per caller.
    if (this.#reading) return this.#reading;
    const record = !this.#recorded;
    const load = Promise.all(
      [...this.#logical.values()].map(async (logical) => {
        const key = centerKey(this.config, 'shards', logical.name);
        if (record && logical.k > 1) await this.redis.sadd(key, logical.k);
        const ks = (await this.redis.smembers(key)).map(Number).filter((n) => Number.isInteger(n) && n >= 1 && n <= MAX_SHARDS);
        logical.history = [logical.k, ...new Set([...ks, 1].filter((n) => n !== logical.k))];
        for (let i = 0; i < this.shardCount(logical.name); i++) this.#open(logical, i);
      }),
    ).then(
      () => {
        this.#recorded = true;
        this.#historyAt = Date.now();
      },
      (err: unknown) => {
        if (this.#history === load) this.#history = undefined;
        throw err;
      },
    );
    this.#history = load;
    this.#reading = load;
    const settled = () => {
      if (this.#reading === load) this.#reading = undefined;
    };
    load.then(settled, settled);
    return load;
  }

  /**
   * The BullMQ queue of an unsharded queue, or of a shard by its BullMQ name (`batch.3`); shard 0
   * for a sharded queue's logical name (use {@link route}, {@link findJob} or {@link shardsOf} there).
   * @throws NotFoundError for a queue no contract declares.
   */
  get(name: string): Queue {
    return this.#open(this.#logicalOf(name), this.#logical.has(name) ? 0 : parseShardQueueName(name).shard);
  }

  /** Shards consumed for `name`: this process's K, or more when a larger K was declared before. */
  shardCount(name: string): number {
    const logical = this.#logicalOf(name);
    return Math.max(...logical.history);
  }

  /** True when `name` has (or had) more than one shard: its jobs and metrics then name their shard. */
  isSharded(name: string): boolean {
    return this.shardCount(name) > 1;
  }

  /** Every shard queue of `name` that is consumed (0..{@link shardCount}-1). */
  shardsOf(name: string): Queue[] {
    const logical = this.#logicalOf(name);
    return Array.from({ length: this.shardCount(name) }, (_, i) => this.#open(logical, i));
  }

  /** Shard `i` of `name`. */
  shard(name: string, i: number): Queue {
    return this.#open(this.#logicalOf(name), i);
  }

  /** Logical queue and shard of a BullMQ queue (by its name). */
  logicalOf(queue: Queue | string): { queue: string; shard: number } {
    const { logical, shard } = parseShardQueueName(typeof queue === 'string' ? queue : queue.name);
    return { queue: logical, shard };
  }

  /**
   * Where a new job of queue `name` goes. Unsharded: the queue, the caller's id (or BullMQ's
   * counter). Sharded: the shard of `shardKey` or of the caller's id, or a generated id `s<i>-<uuid>`
   * that names its shard, so BullMQ's per-queue counters never collide across shards.
   */
  route(name: string, opts: { jobId?: string; shardKey?: string } = {}): Route {
    const logical = this.#logicalOf(name);
    if (logical.k === 1 && opts.shardKey === undefined) {
      return { queue: this.#open(logical, 0), shard: 0, jobId: opts.jobId };
    }
    if (opts.shardKey !== undefined) {
      const shard = shardOf(opts.shardKey, logical.k);
      // The id must name the shard: it cannot be found by hashing it. An id that already names it
      // (a retry with the id we returned) is kept, so the retry finds the first job.
      const named = opts.jobId !== undefined && shardInId(opts.jobId) === shard;
      const jobId = logical.k === 1 || named ? opts.jobId : generatedJobId(shard, opts.jobId);
      return { queue: this.#open(logical, shard), shard, jobId };
    }
    if (opts.jobId !== undefined) {
      const shard = expectedShard(opts.jobId, logical.k, this.shardCount(name));
      return { queue: this.#open(logical, shard), shard, jobId: opts.jobId };
    }
    const base = randomUUID();
    const shard = shardOf(base, logical.k);
    return { queue: this.#open(logical, shard), shard, jobId: generatedJobId(shard, base) };
  }

  /**
   * Where an id given for a new job may already exist under an earlier K (other than `route`'s
   * shard): an idempotency key reused after K changed must find the first job, not add a second.
   * Empty unless K has changed.
   */
  async previousRoutes(name: string, opts: { jobId: string; shardKey?: string }, current: Route): Promise<Route[]> {
    await this.loadShards(HISTORY_MAX_AGE_MS);
    const logical = this.#logicalOf(name);
    const out: Route[] = [];
    for (const k of logical.history.slice(1)) {
      // A caller id shaped like a generated one (`s5-x`) went to its hash while shard 5 was not
      // consumed (K was 4), and goes to shard 5 once a larger K consumes it: look on both, or the
      // key reused after K grew added a second job.
      const shards =
        opts.shardKey !== undefined
          ? [shardOf(opts.shardKey, k)]
          : [...new Set([expectedShard(opts.jobId, k, this.shardCount(name)), shardOf(routingKey(opts.jobId), k)])];
      for (const shard of shards) {
        const keep = opts.shardKey === undefined || k === 1 || shardInId(opts.jobId) === shard;
        const jobId = keep ? opts.jobId : generatedJobId(shard, opts.jobId);
        if ((shard !== current.shard || jobId !== current.jobId) && !out.some((r) => r.shard === shard && r.jobId === jobId)) {
          out.push({ queue: this.#open(logical, shard), shard, jobId });
        }
      }
    }
    return out;
  }

  /** K of this process's configuration for `name`: new jobs go to shards 0..K-1 (1 when unsharded). */
  currentShards(name: string): number {
    return this.#logicalOf(name).k;
  }

  /** The shard of `key` under this process's K (0 when unsharded). */
  shardFor(name: string, key: string): number {
    return shardOf(key, this.#logicalOf(name).k);
  }

  /** The shard queue where a job with this id is looked for first. */
  forJob(name: string, id: string): Queue {
    const logical = this.#logicalOf(name);
    return this.#open(logical, this.#namedShard(name) ?? expectedShard(id, logical.k, this.shardCount(name)));
  }

  /**
   * Finds the shard holding job `id` of queue `name`: its expected shard first (one GETSTATE-like
   * read, as unsharded), then every other consumed shard (only sharded queues, only on a miss).
   * @returns the shard's queue and the job's state, or undefined when no shard has it.
   */
  async locate(name: string, id: string): Promise<{ queue: Queue; state: string } | undefined> {
    for await (const queue of this.#candidates(name, id)) {
      const state = await queue.getJobState(id);
      if (state !== 'unknown') return { queue, state };
    }
    return undefined;
  }

  /** Job `id` of queue `name` on whichever shard holds it (other shards are read only on a miss). */
  async findJob(name: string, id: string): Promise<Job | undefined> {
    for await (const queue of this.#candidates(name, id)) {
      const job = await queue.getJob(id);
      if (job) return job;
    }
    return undefined;
  }

  /**
   * Shards to read for job `id`, lazily: the expected one; then the one its id names (a K this
   * process has not seen yet); then, with the history re-read (another process may have raised
   * K), every other consumed shard. An unsharded queue yields one queue.
   */
  async *#candidates(name: string, id: string): AsyncGenerator<Queue> {
    const logical = this.#logicalOf(name);
    // Such an id would read one of the queue's own keys as a job hash (WRONGTYPE, or `meta` taken
    // for a job); none can exist, as enqueue refuses these ids.
    if (isQueueKeyName(id)) return;
    const tried = new Set<number>();
    const first = this.#namedShard(name) ?? expectedShard(id, logical.k, this.shardCount(name));
    tried.add(first);
    yield this.#open(logical, first);
    const named = shardInId(id);
    if (named !== undefined && named < MAX_SHARDS && !tried.has(named)) {
      tried.add(named);
      yield this.#open(logical, named);
    }
    await this.loadShards(HISTORY_MAX_AGE_MS);
    for (let i = 0; i < this.shardCount(name); i++) {
      if (!tried.has(i)) yield this.#open(logical, i);
    }
  }

  /** Every BullMQ queue: each shard of each declared queue. */
  all(): Queue[] {
    return [...this.#logical.values()].flatMap((l) => this.shardsOf(l.name));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#logical.values()].flatMap((l) => l.shards.filter(Boolean).map((q) => q.close())));
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
