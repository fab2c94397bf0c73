import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { Job, JobsOptions, Queue } from 'bullmq';
import type { z } from 'zod';
import { loadConfig, type Config } from './config.js';
import { Continuations, type ContinueOn, type JobRef } from './continuations/index.js';
import { withDeadline } from './deadline.js';
import { ConflictError, NotFoundError, UnavailableError, ValidationError, isRedisOutOfMemory, isRedisUnavailable, type FieldIssue } from './errors.js';
import { checkPayload, type ContractMap, type JobNameOf, type JobOf, type PayloadInput, type PayloadOf, type ThenJobOf } from './jobs/contract.js';
import { jobOptions } from './jobs/options.js';
import { knownOrHint, type JobCatalog } from './jobs/catalog.js';
import type { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { readJobTimings, type HistogramTotals, type TimingName } from './metrics/job-timings.js';
import { Queues } from './queues.js';
import { checkEvictionPolicy, type RedisClient } from './redis/connection.js';
import { Incidents } from './alerts/incidents.js';
import type { Incident } from './alerts/alert.js';
import { Schedules, type OverlapPolicy, type Repeat, type ScheduleInfo, type ScheduleTiming } from './schedules.js';
import type { Health } from './schedules/health.js';
import type { RunOutcome, RunRecord } from './schedules/history.js';
import { after as afterSchema, continueOptions, dedupe as dedupeSchema, enqueueOptions, type Created } from './schemas/enqueue.js';
import type { JobInfo, JobMoved } from './schemas/jobs.js';
import { Batches, batchFingerprint, memberId, thenId, type BatchThen } from './batches/batches.js';
import { batchRequest, type BatchCreated, type BatchStatus } from './schemas/batch.js';
import { cancelMarkKey } from './operations/cancel-signal.js';
import { Operations } from './operations/operations.js';
import { listJobs } from './operations/job-list.js';
import { toInfo, iso } from './operations/job-info.js';
import { parseRequest } from './schemas/parse.js';
import type { MisfirePolicy } from './schemas/schedule-semantics.js';
import {
  cleanRequest,
  jobListQuery,
  jobLogsQuery,
  retryFailedRequest,
  type Cancelled,
  type CleanRequest,
  type JobList,
  type JobListQuery,
  type JobLogs,
  type QueueSummary,
} from './schemas/operations.js';

export type { JobRef, ContinueOn, Repeat, OverlapPolicy, ScheduleInfo, Created, JobInfo, JobMoved, Health, RunOutcome, RunRecord, Incident };
export type { JobList, JobListQuery, JobLogs, Cancelled, CleanRequest, QueueSummary, BatchCreated, BatchStatus };
export type { JobNameOf, JobOf, PayloadOf, ThenJobOf };

/** Options of a recurring job besides its timing and payload; `then` takes any job name and data (see {@link RecurringOptionsOf}). */
export interface RecurringOptions {
  /** @defaultValue 'allow' */
  overlap?: OverlapPolicy;
  /** Ms after a tick before a run that has not started makes the schedule overdue. @defaultValue max(60 s, 10 % of the period) */
  grace?: number;
  /** Ticks missed while no worker ran: `once`, `skip` or `all` (docs/SCHEDULES.md). @defaultValue 'once' */
  misfire?: MisfirePolicy;
  /** With `misfire: 'all'`: at most this many late runs after an outage. @defaultValue 100 */
  maxCatchUp?: number;
  /** Run job `name` after each run of the schedule, with the run as its parent. */
  then?: { name: string; data?: unknown; on?: ContinueOn };
}

/** {@link RecurringOptions} of {@link JobCenterClient.recurring}'s typed `upsert`: `then`'s `data` is typed by its `name` in catalog `C`. */
export type RecurringOptionsOf<C extends ContractMap> = Omit<RecurringOptions, 'then'> & { then?: ThenJobOf<C> & { on?: ContinueOn } };

/** Per-call options of {@link JobCenterClient.enqueue}. */
export interface EnqueueOptions {
  /** Idempotency key: enqueueing twice with the same key creates one job (its id is the key). */
  jobId?: string;
  /** Wait this many ms before the job becomes runnable. @defaultValue 0 */
  delay?: number;
  /** Run at (or soon after) this time. Mutually exclusive with `delay`. */
  at?: Date;
  /** Lower runs first (1 = highest); a job without a priority runs before any prioritized one (BullMQ). @defaultValue none (FIFO) */
  priority?: number;
  /** Overrides the contract's `attempts`. */
  attempts?: number;
  /**
   * Sharded queues only: jobs with the same `shardKey` go to the same shard, so they run in the order
   * they were added (FIFO holds per shard only: jobs on different shards run in no particular order
   * relative to each other). Without it a job's shard follows from its id. Ignored when the queue has
   * one shard. The job's id then names its shard (`s<i>-<jobId or generated>`).
   */
  shardKey?: string;
  /**
   * Deduplication (BullMQ `deduplication`): `drop` keeps the existing job with this key while it is
   * unfinished (for at most `ttlMs` when given); `replace` debounces: the job waits `ttlMs` and a newer one within that
   * window replaces it. The answer says `deduplicated: true` and the id of the job that stands.
   * On a sharded queue the dedupe key picks the shard: not with `shardKey` there (ValidationError).
   */
  dedupe?: z.input<typeof dedupeSchema>;
}

/** One job of {@link JobCenterClient.enqueueManyUnchecked} and {@link JobCenterClient.batchUnchecked}: any name, any data. */
export interface BulkJob {
  name: string;
  data?: unknown;
  opts?: EnqueueOptions;
}

/** One job of {@link JobCenterClient.enqueueMany} and {@link JobCenterClient.batch}: its `data` is typed by its `name` in catalog `C`. */
export type BulkJobOf<C extends ContractMap> = JobOf<C> & { opts?: EnqueueOptions };

/** Options of {@link JobCenterClient.batchUnchecked}: `then` takes any job name and data. */
export interface BatchOptions {
  /**
   * The batch's id, a UUID, for a safe retry: a call with the id of a batch that exists creates
   * nothing new but the batch's jobs that are missing and have not finished (`duplicate: true`);
   * another request with that id is a ConflictError. @defaultValue a generated UUID
   */
  id?: string;
  /** Runs once after every job of the batch finished; `data` defaults to `{}`. */
  then?: { name: string; data?: unknown };
  /** `success` (default): `then` runs only if every job completed; `finished`: in any case. */
  on?: ContinueOn;
}

/** Options of {@link JobCenterClient.batch}: `then`'s `data` is typed by its `name` in catalog `C`. */
export type BatchOptionsOf<C extends ContractMap> = Omit<BatchOptions, 'then'> & { then?: ThenJobOf<C> };

/** A validated job, as BullMQ's add takes it. */
interface Prepared {
  /** The logical queue. */
  queue: string;
  /** The BullMQ queue it goes to: the queue itself, or on a sharded queue the shard it routes to. */
  bull: Queue;
  /** Sharded queues only: the shard, and what routed it there (for keys reused across a change of K). */
  shard?: number;
  shardKey?: string;
  name: string;
  data: unknown;
  opts: JobsOptions;
  delay: number;
  /** The caller's idempotency key (jobId), when one was given. */
  key?: string;
  /** With dedupe: the id we gave the job; another id back means BullMQ kept an existing one. */
  dedupeId?: string;
}

/**
 * The typed client other services use to hand work to the center: enqueue, schedule, continue,
 * recurring jobs and job status. Payloads are checked against the job's contract before anything
 * is written; while Redis is unreachable, calls fail at once with {@link UnavailableError}.
 */
export class JobCenterClient<C extends ContractMap = ContractMap> {
  readonly #queues: Queues;
  readonly #schedules: Schedules;
  readonly #continuations: Continuations;
  readonly #ops: Operations;
  readonly #batches: Batches;
  /** Settles when the first connection attempt ends (ready or failed), or after FIRST_CONNECT_WAIT_MS. */
  readonly #firstAttempt: Promise<void>;
  #firstAttemptDone = false;
  readonly #logger: Logger;
  readonly #incidents: Incidents;
  /** The job catalog this client enqueues from (`config.catalog`). */
  readonly contracts: C;

  constructor(
    /** The configuration this client was built from (connection, prefix). */
    readonly config: Config,
    logger: Logger,
    lifecycle?: Lifecycle,
  ) {
    this.#logger = logger;
    this.contracts = config.catalog.contracts as C;
    this.#queues = new Queues(config, logger, lifecycle);
    this.#schedules = new Schedules(this.#queues);
    this.#continuations = new Continuations(this.#queues, logger);
    this.#incidents = new Incidents(this.#queues.redis, config);
    this.#batches = new Batches(this.#queues, logger);
    this.#firstAttempt = firstAttempt(this.#queues.redis).then(() => {
      this.#firstAttemptDone = true;
    });
    this.#ops = new Operations(this.#queues, this.#continuations, this.#batches);
  }

  /** The job types this client knows (its `contracts`, checked and indexed). */
  get catalog(): JobCatalog {
    return this.config.catalog;
  }

  /** The connection's state, for health checks: `ready` when commands are being answered. */
  get connectionStatus(): RedisClient['status'] {
    return this.#queues.redis.status;
  }

  /** Logs a warning when Redis may evict jobs (`maxmemory-policy` other than noeviction). */
  checkEvictionPolicy(): Promise<void> {
    return checkEvictionPolicy(this.#queues.redis, this.#logger);
  }

  /** Round-trips a PING; for health checks. */
  async ping(): Promise<void> {
    const redis = this.#queues.redis;
    if (!(redis instanceof Cluster)) {
      await redis.ping();
      return;
    }
    // A Cluster answers PING on any live node while a master is down: ask every master, and the
    // cluster's own state.
    const masters = redis.nodes('master');
    await Promise.all(masters.map((node) => node.ping()));
    const info = String(await masters[0]?.call('CLUSTER', 'INFO'));
    if (!/cluster_state:ok/.test(info)) throw new Error('the Redis Cluster is down (cluster_state is not ok)');
  }

  /**
   * The BullMQ queues behind this client, for dashboards (Bull Board) and metrics that need the
   * BullMQ objects themselves. Everything else goes through the client's methods.
   */
  bullQueues(): readonly Queue[] {
    return this.#queues.all();
  }

  /**
   * Resolves once connected and the shard history is read: from then on {@link bullQueues} also
   * lists shards of a larger K declared earlier (still consumed). Holds no timer.
   */
  shardsLoaded(): Promise<void> {
    return this.#queues.ready();
  }

  /**
   * A logical queue's job duration and wait histograms (cumulative, every job that finished
   * under the center's workers; see `src/metrics/job-timings.ts`).
   */
  jobTimings(queue: string): Promise<Record<TimingName, HistogramTotals>> {
    return readJobTimings(this.#queues.redis, this.config, queue);
  }

  /**
   * Which logical queue and shard a BullMQ queue of {@link bullQueues} is (by its name), and how
   * many shards that queue has (1 when it is not sharded).
   */
  queueShard(queue: Queue | string): { queue: string; shard: number; shards: number } {
    const { queue: logical, shard } = this.#queues.logicalOf(queue);
    return { queue: logical, shard, shards: this.#queues.shardCount(logical) };
  }

  /**
   * Runs `fn`, turning connection failures into {@link UnavailableError}. `write` marks calls that
   * change something: their error says whether the outcome is known, and carries the idempotency
   * key (`jobId`) to retry with.
   */
  async #guard<T>(fn: () => Promise<T>, write?: WriteKind): Promise<T> {
    // A client is used right after it is made (ready() is optional): its first connection is
    // waited for, within the connect timeout. Afterwards a fail-fast connection that is not ready
    // would reject anyway, so answer at once. Nothing was sent: that much is certain.
    if (!this.#firstAttemptDone) await this.#firstAttempt;
    if (this.#queues.redis.status !== 'ready' && this.#queues.redis.status !== 'connect') {
      throw new UnavailableError(
        `Redis is unreachable (connection ${this.#queues.redis.status}): nothing was written${retryHint(write)}`,
        'not-written',
        write?.jobId ?? write?.jobIds,
      );
    }
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ValidationError || err instanceof NotFoundError) throw err;
      if (this.#queues.redis.status !== 'ready' || isRedisUnavailable(err)) {
        if (!write) throw new UnavailableError(`Redis is unreachable: ${(err as Error).message}${retryHint(write)}`);
        // Redis failed while the call was under way: the command may have run before the
        // connection went. Say so; the idempotency key makes the retry safe either way.
        const how =
          write.batchId !== undefined
            ? `retry with the same batch id ${JSON.stringify(write.batchId)} (id in the request): it creates the batch at most once and adds only its missing jobs`
            : write.dedupeKey !== undefined
              ? `retry with the same dedupe key ${JSON.stringify(write.dedupeKey)}: deduplication keeps one job`
              : write.jobId !== undefined
            ? `retry with the same jobId ${JSON.stringify(write.jobId)}: it creates the job at most once`
            : write.jobIds !== undefined
              ? 'retry with the same jobIds (listed in jobIds): each job is created at most once'
              : write.idempotent
              ? 'repeating the same call is safe'
              : 'check the current state before retrying';
        // Out of memory: a script may have written part of its work before Redis refused the rest.
        const why = isRedisOutOfMemory(err) ? 'Redis is out of memory (maxmemory with noeviction: free memory or raise maxmemory)' : 'Redis failed during the request';
        throw new UnavailableError(
          `${why} (${(err as Error).message}): the outcome is unknown, the write may or may not have happened; ${how}`,
          'unknown',
          write.jobId ?? write.jobIds,
        );
      }
      throw err;
    }
  }

  /** Adds a job to run now (or after `opts.delay` / at `opts.at`). */
  enqueue<N extends JobNameOf<C>>(name: N, data: PayloadInput<C[N]>, opts: EnqueueOptions = {}): Promise<Created> {
    return this.#add(name, data, opts);
  }

  /** Adds a job to run after `when.delay` ms or at `when.at`. */
  async schedule<N extends JobNameOf<C>>(
    name: N,
    data: PayloadInput<C[N]>,
    when: { delay: number } | { at: Date },
    opts: Omit<EnqueueOptions, 'delay' | 'at'> = {},
  ): Promise<Created> {
    if (!when || ((when as { delay?: unknown }).delay === undefined && (when as { at?: unknown }).at === undefined)) {
      throw new ValidationError('schedule needs { delay } or { at }', [{ field: 'delay', message: 'delay or runAt is required' }]);
    }
    return this.#add(name, data, { ...opts, ...when });
  }

  /** Untyped entry for callers that receive names at run time (HTTP, CLI); validates the same way. */
  async add(name: string, data: unknown, opts: EnqueueOptions = {}): Promise<Created> {
    return this.#add(name, data, opts);
  }

  /** Validates one job and turns it into BullMQ's add arguments; writes nothing. */
  #prepare(name: string, data: unknown, opts: EnqueueOptions): Prepared {
    const contract = this.#queues.catalog.contractFor(name);
    const payload = checkPayload(contract, data);
    const o = isEmpty(opts) ? NO_OPTIONS : parseRequest(enqueueOptions, toRequestOptions(opts), 'options');
    const delay = o.runAt !== undefined ? Math.max(0, Date.parse(o.runAt) - Date.now()) : (o.delay ?? 0);
    const overrides: JobsOptions = {};
    if (delay > 0) overrides.delay = delay;
    // The shard (sharded queues): of shardKey, else of the dedupe key (BullMQ deduplicates within
    // one queue, i.e. one shard), else of the id.
    const shards = this.#queues.currentShards(contract.queue);
    if (o.dedupe && o.shardKey !== undefined && shards > 1) {
      // Routed by shardKey, jobs with one dedupe key but different shardKeys went to different
      // shards, where BullMQ's per-queue deduplication never saw each other: both ran.
      throw new ValidationError(
        `Invalid options: dedupe cannot be combined with shardKey on queue ${contract.queue} (${shards} shards): deduplication works within one shard, so jobs with one dedupe key and different shardKeys would all run; drop shardKey (the job then goes to the shard of dedupe.key)`,
        [{ field: 'dedupe', message: `dedupe: cannot be combined with shardKey on sharded queue ${contract.queue}; the dedupe key picks the shard` }],
      );
    }
    const shardKey = o.shardKey ?? o.dedupe?.key;
    // Every enqueue has an idempotency key: the caller's, or a fresh one returned as `id` (and in
    // a 503), so a retry after an unknown outcome can never add the job twice. On a sharded queue a
    // generated key names its shard (`s<i>-<uuid>`), so a retry finds it whatever K is by then.
    const route = this.#queues.route(contract.queue, { jobId: o.jobId, shardKey });
    overrides.jobId = route.jobId ?? randomUUID();
    // With dedupe: our id, so that getting another id back means BullMQ kept the existing job.
    const dedupeId = o.dedupe ? overrides.jobId : undefined;
    if (o.priority !== undefined) overrides.priority = o.priority;
    if (o.attempts !== undefined) overrides.attempts = o.attempts;
    if (o.dedupe) {
      const { key, ttlMs, mode } = o.dedupe;
      overrides.deduplication = mode === 'replace' ? { id: key, ttl: ttlMs, extend: true, replace: true } : { id: key, ...(ttlMs ? { ttl: ttlMs } : {}) };
      // Debounce: the job waits out the window; a newer one within it replaces this one.
      if (mode === 'replace' && delay === 0) overrides.delay = ttlMs;
    }
    // A keyed add carries a nonce in its options: BullMQ answers an add whose id exists with our own
    // local copy, so reading the stored job back is how we learn which add it came from. (Its
    // timestamp could not tell: two adds of one key within the same millisecond have the same.)
    if (o.jobId !== undefined) (overrides as KeyedOptions)[ADD_NONCE] = randomUUID();
    const sharded = this.#queues.isSharded(contract.queue);
    return {
      queue: contract.queue,
      bull: route.queue,
      ...(sharded ? { shard: route.shard, ...(shardKey !== undefined ? { shardKey } : {}) } : {}),
      name: contract.name,
      data: payload,
      opts: jobOptions(contract, overrides),
      delay: overrides.delay ?? 0,
      ...(o.jobId !== undefined ? { key: o.jobId } : {}),
      ...(dedupeId ? { dedupeId } : {}),
    };
  }

  async #add(name: string, data: unknown, opts: EnqueueOptions): Promise<Created> {
    const p = this.#prepare(name, data, opts);
    const queue = p.bull;
    return this.#guard(async () => {
      if (p.key !== undefined) {
        const earlier = await this.#earlierCopy(p);
        if (earlier) return earlier;
      }
      const job = await queue.add(p.name, p.data, p.opts);
      return this.#created(queue, p, job);
    }, { jobId: p.opts.jobId, ...(p.dedupeId !== undefined && opts.dedupe ? { dedupeKey: opts.dedupe.key } : {}) });
  }

  /**
   * A keyed job added before K changed lives on the shard the key routed to then: that job, as a
   * duplicate, or undefined (always, for unsharded queues: they have no earlier K).
   */
  async #earlierCopy(p: Prepared): Promise<Created | undefined> {
    if (p.key === undefined) return undefined;
    const route = { queue: p.bull, shard: p.shard ?? 0, jobId: String(p.opts.jobId) };
    const previous = await this.#queues.previousRoutes(p.queue, { jobId: p.key, shardKey: p.shardKey }, route);
    if (previous.length === 0) return undefined;
    // A job where this call routes now is this call's job: a retry must get it back, not another
    // job an earlier K's route holds (`k-1` with shardKey went to `s2-k-1`; its retry answered the
    // `k-1` a call without shardKey had added on shard 0). Answered here: an add of its id would
    // change nothing, and reading it back again would repeat this read.
    const current = await p.bull.getJob(route.jobId);
    if (current) return { id: route.jobId, queue: p.queue, name: current.name, state: await current.getState(), duplicate: true, ...(p.shard !== undefined ? { shard: p.shard } : {}) };
    for (const prev of previous) {
      const old = await prev.queue.getJob(prev.jobId!);
      if (old) return { id: prev.jobId!, queue: p.queue, name: old.name, state: await old.getState(), duplicate: true, shard: prev.shard };
    }
    return undefined;
  }

  /** What was created; for a keyed job, the stored one (BullMQ ignores an add whose id exists and returns our local copy). */
  #created(queue: Queue, p: Prepared, job: Job): Created | Promise<Created> {
    const created = createdOf(p, job);
    // Only a keyed or deduplicated job needs Redis to say what stands; the others answer at once.
    return p.key !== undefined || p.dedupeId !== undefined ? this.#stored(queue, p, created) : created;
  }

  /** A keyed or deduplicated job: the one that stands in Redis, and whether it was this add's. */
  async #stored(queue: Queue, p: Prepared, created: Created): Promise<Created> {
    if (p.dedupeId !== undefined && created.id !== p.dedupeId) {
      // Deduplicated: BullMQ answered with the id of the job that stands.
      const stored = await queue.getJob(created.id);
      return { ...created, name: stored?.name ?? created.name, state: stored ? await stored.getState() : 'unknown', deduplicated: true };
    }
    if (p.key === undefined) return created;
    const stored = await queue.getJob(created.id);
    if (!stored) return created;
    const duplicate = (stored.opts as KeyedOptions)[ADD_NONCE] !== (p.opts as KeyedOptions)[ADD_NONCE];
    return { ...created, name: stored.name, state: await stored.getState(), ...(duplicate ? { duplicate } : {}) };
  }

  /**
   * A batch (fan-in): enqueues `jobs` and, when given, registers `then` to run once after every one
   * of them finished (`on: 'success'`, the default: only if all completed; `'finished'`: in any
   * case). Jobs are validated first, all or none (details `jobs.<index>.<field>`); they get ids
   * `bat-<batch>-<index>`. Progress: {@link getBatch}. Each job's and `then`'s `data` is typed by
   * its `name` in the client's catalog; names known only at run time go to {@link batchUnchecked}.
   */
  batch<J extends BulkJobOf<C> = BulkJobOf<C>, O extends BatchOptionsOf<C> = BatchOptionsOf<C>>(jobs: readonly NoInfer<J>[], options?: NoInfer<O>): Promise<BatchCreated> {
    return this.batchUnchecked(jobs, options);
  }

  /** Untyped {@link batch} for names known only at run time (HTTP, CLI); validates the same way. */
  async batchUnchecked(jobs: readonly BulkJob[], options: BatchOptions = {}): Promise<BatchCreated> {
    const { id: givenId, ...request } = parseRequest(
      batchRequest,
      {
        jobs: Array.isArray(jobs) ? jobs.map((j) => ({ name: j?.name, ...(j?.data !== undefined ? { data: j.data } : {}), ...toRequestOptions(j?.opts ?? {}) })) : jobs,
        ...withoutUndefined(options),
      },
      'batch',
    );
    const prepared = this.#prepareAll(jobs);
    let then: BatchThen | undefined;
    if (options.then) {
      try {
        const contract = this.#queues.catalog.contractFor(options.then.name);
        const data = checkPayload(contract, options.then.data ?? {});
        then = { queue: contract.queue, name: contract.name, data, opts: jobOptions(contract) };
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        throw new ValidationError(`then: ${err.message}`, err.details.map((d) => ({ field: `then.${d.field}`, message: `then.${d.message}` })));
      }
    }
    const id = givenId ?? randomUUID();
    prepared.forEach((p, i) => {
      p.opts = { ...p.opts, jobId: memberId(id, i) };
      // On a sharded queue the member goes to the shard of its id, where lookups find it.
      p.bull = this.#queues.forJob(p.queue, memberId(id, i));
      if (p.shard !== undefined) p.shard = this.#queues.logicalOf(p.bull).shard;
    });
    // Members by BullMQ queue (a shard's name on a sharded queue), as the worker's hook reports them.
    const members = prepared.map((p, i) => `${p.bull.name}/${memberId(id, i)}`);
    return this.#guard(async () => {
      const opened = await this.#batches.open(id, { members, on: options.on ?? 'success', ...(then ? { then } : {}), fingerprint: batchFingerprint(request) });
      // A retry adds what the first call did not (BullMQ ignores the ids that exist), but not the
      // jobs that finished: retention may have removed them, and they would run again.
      const finished = opened.created ? new Set<string>() : opened.finished;
      const created = await this.#addPrepared(prepared.filter((_, i) => !finished.has(members[i]!)));
      const jobs = await Promise.all(
        prepared.map(async (p, i) => {
          if (!finished.has(members[i]!)) return created.shift()!;
          const state = await p.bull.getJobState(memberId(id, i));
          return { id: memberId(id, i), queue: p.queue, name: p.name, state: state === 'unknown' ? 'removed' : state };
        }),
      );
      return {
        id,
        jobs: jobs.map(({ id: jobId, queue, name, state }) => ({ id: jobId, queue, name, state })),
        then: then ? { queue: then.queue, id: thenId(id), name: then.name } : null,
        ...(opened.created ? {} : { duplicate: true }),
      };
    }, { jobIds: prepared.map((p) => p.opts.jobId!), batchId: id });
  }

  /** A batch's progress (total, completed, failed, pending) and its `then` job's state; undefined when unknown. */
  getBatch(id: string): Promise<BatchStatus | undefined> {
    return this.#guard(() => this.#batches.status(id));
  }

  // The jobs' type is a type parameter that is never inferred (NoInfer) and defaults to the
  // catalog's jobs, instead of `jobs: readonly BulkJobOf<C>[]`: TypeScript measures a union over
  // `keyof C` as invariant in C, and with the plain parameter a client typed with a catalog no
  // longer assigned to JobCenterClient (the default catalog, as the server and CLI take it). When
  // two clients are compared, the methods' own type parameters are matched with each other, so
  // the catalog's jobs are not compared; a call still checks every item against BulkJobOf<C>,
  // excess properties included. batch and recurring.upsert's options do the same.
  /**
   * Adds many jobs at once (BullMQ `addBulk`: one transaction per queue). Every job is validated
   * first; if any is invalid nothing is written and the {@link ValidationError} lists each bad
   * field as `jobs.<index>.<field>`. Returns one {@link Created} per job, in order. Each job's
   * `data` is typed by its `name` in the client's catalog; names known only at run time go to
   * {@link enqueueManyUnchecked}.
   */
  enqueueMany<J extends BulkJobOf<C> = BulkJobOf<C>>(jobs: readonly NoInfer<J>[]): Promise<Created[]> {
    return this.enqueueManyUnchecked(jobs);
  }

  /** Untyped {@link enqueueMany} for names known only at run time (HTTP, CLI); validates the same way. */
  async enqueueManyUnchecked(jobs: readonly BulkJob[]): Promise<Created[]> {
    const prepared = this.#prepareAll(jobs);
    if (prepared.length === 0) return [];
    return this.#guard(() => this.#addPrepared(prepared), { jobIds: prepared.map((p) => p.opts.jobId!) });
  }

  /** Validates every job; all or none (details `jobs.<index>.<field>`). */
  #prepareAll(jobs: readonly BulkJob[]): Prepared[] {
    if (!Array.isArray(jobs)) {
      throw new ValidationError('jobs must be an array of { name, data, opts }', [{ field: 'jobs', message: 'jobs must be an array' }]);
    }
    const prepared: Prepared[] = [];
    const issues: FieldIssue[] = [];
    jobs.forEach((job, i) => {
      const at = `jobs.${i}`;
      try {
        if (!job || typeof job !== 'object') throw new ValidationError(`${at} must be an object`, [{ field: '', message: 'must be an object { name, data, opts }' }]);
        prepared.push(this.#prepare(job.name, job.data, job.opts ?? {}));
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const details = err.details.length > 0 ? err.details : [{ field: '', message: err.message }];
        for (const d of details) issues.push({ field: d.field ? `${at}.${d.field}` : at, message: `${at}: ${d.message}` });
      }
    });
    if (issues.length > 0) {
      const bad = new Set(issues.map((d) => d.field.split('.').slice(0, 2).join('.'))).size;
      throw new ValidationError(`${bad} of ${jobs.length} jobs are invalid; nothing was enqueued: ${issues.map((d) => d.message).join('; ')}`, issues);
    }
    return prepared;
  }

  /** Adds validated jobs with BullMQ addBulk, one transaction per queue; answers in input order. */
  async #addPrepared(prepared: readonly Prepared[]): Promise<Created[]> {
    const out: Created[] = new Array<Created>(prepared.length);
    // Keys used before K changed: report the job that stands, as a single enqueue does (only
    // caller-keyed jobs can have one; most bulks have none and skip the lookups).
    const earlier = prepared.some((p) => p.key !== undefined) ? await Promise.all(prepared.map((p) => this.#earlierCopy(p))) : [];
    // One addBulk per BullMQ queue (per shard of a sharded queue).
    const byQueue = new Map<string, number[]>();
    prepared.forEach((p, i) => {
      if (earlier[i]) {
        out[i] = earlier[i];
        return;
      }
      const list = byQueue.get(p.bull.name);
      if (list) list.push(i);
      else byQueue.set(p.bull.name, [i]);
    });
    await Promise.all(
      [...byQueue].map(async ([name, indexes]) => {
        const queue = this.#queues.get(name);
        const added = await queue.addBulk(indexes.map((i) => ({ name: prepared[i]!.name, data: prepared[i]!.data, opts: prepared[i]!.opts })));
        await Promise.all(
          indexes.map(async (i, k) => {
            out[i] = await this.#created(queue, prepared[i]!, added[k]!);
          }),
        );
      }),
    );
    return out;
  }

  /**
   * Runs `name(data)` once `parent` finishes: on `success` only if it completed (a failed parent
   * leaves the continuation failed with a "Cancelled" reason), on `finished` either way. The
   * continuation's handler reads the parent's outcome from `ctx.parent()`.
   */
  continueWith<N extends JobNameOf<C>>(
    parent: JobRef | readonly JobRef[],
    name: N,
    data: PayloadInput<C[N]>,
    opts: { on?: ContinueOn; jobId?: string } = {},
  ): Promise<Created> {
    return this.continueWithUnchecked(parent, name, data, opts);
  }

  /**
   * Untyped {@link continueWith} for names known only at run time. Several parents make a join:
   * the continuation (id `batthen-<join>`) runs once after all of them, on `success` only if all
   * completed; `GET /api/batches/<join>` shows how many finished.
   */
  async continueWithUnchecked(parent: JobRef | readonly JobRef[], name: string, data: unknown, opts: { on?: ContinueOn; jobId?: string } = {}): Promise<Created> {
    const o = parseRequest(continueOptions, withoutUndefined(opts), 'options');
    // A parent may be anything with queue and id (a Created, a JobInfo): only those two are read.
    const refOf = (r: unknown): unknown => (r && typeof r === 'object' && !Array.isArray(r) ? { queue: (r as JobRef).queue, id: (r as JobRef).id } : r);
    const parents = parseRequest(afterSchema, Array.isArray(parent) ? parent.map(refOf) : refOf(parent), 'after', 'after');
    const list = Array.isArray(parents) ? parents : [parents];
    const { queueNames } = this.#queues.catalog;
    list.forEach((p, i) => {
      if (!queueNames.includes(p.queue)) {
        const field = Array.isArray(parents) ? `after.${i}.queue` : 'after.queue';
        throw new ValidationError(`Unknown parent queue ${JSON.stringify(p.queue)}; known queues: ${knownOrHint(queueNames)}`, [
          { field, message: `${field} must be one of: ${queueNames.join(', ')}` },
        ]);
      }
    });
    const key = o.jobId ?? randomUUID();
    if (list.length === 1) return this.#guard(() => this.#continuations.register(list[0]!, name, data, { on: o.on, key }), { jobId: key });
    return this.#guard(() => this.#continuations.join(list, name, data, { on: o.on, key }), { jobId: key });
  }

  /** Starts a new sequence: each step runs after the previous one (on success unless told otherwise). */
  chain(): ChainBuilder<C> {
    return new ChainBuilder<C>(this);
  }

  /** Recurring jobs (Hangfire's RecurringJob.AddOrUpdate / RemoveIfExists / Trigger). */
  readonly recurring = {
    upsert: <N extends JobNameOf<C>, O extends RecurringOptionsOf<C> = RecurringOptionsOf<C>>(
      id: string,
      repeat: Repeat,
      name: N,
      data: PayloadInput<C[N]>,
      opts?: NoInfer<O>,
    ): Promise<ScheduleInfo> => this.recurring.upsertUnchecked(id, repeat, name, data, opts),
    /** Untyped {@link upsert} for names known only at run time (HTTP, CLI); validates the same way. */
    upsertUnchecked: (id: string, repeat: Repeat, name: string, data: unknown, opts: RecurringOptions = {}): Promise<ScheduleInfo> =>
      this.#guard(
        () =>
          this.#schedules.upsert({
            id,
            repeat,
            name,
            data,
            overlap: opts.overlap,
            ...(opts.grace !== undefined ? { grace: opts.grace } : {}),
            ...(opts.misfire !== undefined ? { misfire: opts.misfire } : {}),
            ...(opts.maxCatchUp !== undefined ? { maxCatchUp: opts.maxCatchUp } : {}),
            ...(opts.then !== undefined ? { then: opts.then } : {}),
          }),
        { idempotent: true },
      ),
    /**
     * Changes when a schedule runs, keeping its job and options. `timing` replaces the whole timing:
     * what it leaves out (tz, limit, endDate) is dropped, not kept, as the board's edit form sends
     * every field (a cron without `tz` runs in the server's zone). startDate and the DST policy stay.
     */
    reschedule: (id: string, timing: ScheduleTiming): Promise<ScheduleInfo> => this.#guard(() => this.#schedules.reschedule(id, timing), { idempotent: true }),
    remove: (id: string): Promise<boolean> => this.#guard(() => this.#schedules.remove(id), { idempotent: true }),
    list: (): Promise<ScheduleInfo[]> => this.#guard(() => this.#schedules.list()),
    /** One schedule with its `lastRun` and `health`, or undefined. */
    get: (id: string): Promise<ScheduleInfo | undefined> => this.#guard(() => this.#schedules.get(id)),
    trigger: (id: string): Promise<JobRef> => this.#guard(() => this.#schedules.trigger(id), {}),
    /** The schedule's last runs, newest first (at most `limit`, default and cap SCHEDULE_HISTORY_LIMIT). */
    runs: (id: string, opts: { limit?: number } = {}): Promise<RunRecord[]> => this.#guard(() => this.#schedules.runs(id, opts.limit)),
    /** Stops firing, keeps the definition; a producer sync does not resume it. */
    pause: (id: string): Promise<ScheduleInfo> => this.#guard(() => this.#schedules.pause(id), { idempotent: true }),
    /** Fires again from the next tick after now. */
    resume: (id: string): Promise<ScheduleInfo> => this.#guard(() => this.#schedules.resume(id), { idempotent: true }),
  };

  /** Alerts the center raised (schedule.failed, schedule.overdue, queue.backlog…). */
  readonly alerts = {
    /** Recent incidents, newest first: open ones have `recoveredAt: null`. @param opts.limit at most this many (default 50). */
    list: async (opts: { limit?: number } = {}): Promise<Incident[]> => {
      const limit = opts.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new ValidationError(`limit must be a whole number from 1 to 500, got ${String(limit)}`, [
          { field: 'limit', message: 'limit must be an integer from 1 to 500' },
        ]);
      }
      return this.#guard(() => this.#incidents.recent(limit));
    },
  };

  /**
   * Retries a job that ended failed: it runs once more, its attempt count going on (`ctx.attempt` = previous attempts + 1).
   * @throws NotFoundError when it does not exist; ConflictError when it is not failed.
   */
  retry(ref: JobRef): Promise<JobMoved> {
    return this.#guard(async () => {
      const job = await this.#queues.findJob(ref.queue, ref.id);
      if (!job) throw new NotFoundError(`No job ${ref.queue}/${ref.id} (never existed, or removed by retention)`);
      const state = await job.getState();
      if (state !== 'failed') throw new ConflictError(`Only failed jobs can be retried; ${ref.queue}/${ref.id} is ${state}`);
      // A cancel that is still waiting for a run of this job must not cancel the run asked for now.
      await this.#queues.redis.del(cancelMarkKey(this.#queues.config, job.queueName, ref.id));
      await job.retry('failed');
      return { queue: ref.queue, id: ref.id, state: 'waiting' };
    }, { idempotent: true });
  }

  /**
   * Lists jobs newest first (by creation time), filtered by queue, state, name and creation time,
   * a page at a time: pass the answer's `nextCursor` as `cursor` for the next page.
   */
  listJobs(query: JobListQuery = {}): Promise<JobList> {
    const q = parseRequest(jobListQuery, query, 'job search');
    return this.#guard(() => listJobs(this.#queues, q));
  }

  /** A job's log lines (`ctx.log` of its handler, BullMQ `job.log`), oldest first. */
  jobLogs(ref: JobRef, range: { start?: number; limit?: number } = {}): Promise<JobLogs> {
    const r = parseRequest(jobLogsQuery, range, 'log range');
    return this.#guard(() => this.#ops.logs(ref, r.start, r.limit));
  }

  /**
   * Cancels or removes a job. Waiting, delayed, prioritized or finished: removed. An awaiting
   * continuation: withdrawn, it never runs. Active: its worker aborts `ctx.signal` and the job
   * ends failed with "Cancelled by <by>", without retries (`outcome: 'cancelling'` when it had not
   * ended within 5 s; `'finished'` when it ended on its own before the abort reached it).
   * @param by who cancels, for the failure reason and the audit. @defaultValue 'client'
   */
  cancelJob(ref: JobRef, by = 'client'): Promise<Cancelled> {
    return this.#guard(() => this.#ops.cancel(ref, by), { idempotent: true });
  }

  /** Runs a delayed job now. @throws ConflictError when it is not delayed. */
  promoteJob(ref: JobRef): Promise<JobMoved> {
    return this.#guard(() => this.#ops.promote(ref), { idempotent: true });
  }

  /** Retries every failed job of `queue`, or only those of job `name`. */
  retryFailed(queue: string, options: { name?: string } = {}): Promise<{ queue: string; retried: number }> {
    const o = parseRequest(retryFailedRequest, options, 'options');
    if (o.name !== undefined) {
      // A name no job of this queue can have would retry nothing and answer as if it had worked.
      const home = this.#queues.catalog.contractFor(o.name).queue;
      if (home !== this.#queues.logicalOf(queue).queue) {
        throw new ValidationError(`Job ${JSON.stringify(o.name)} runs on queue ${home}, not ${queue}`, [
          { field: 'name', message: `name must be a job of queue ${queue}` },
        ]);
      }
    }
    return this.#guard(() => this.#ops.retryFailed(queue, o.name), {});
  }

  /** Pauses a queue: workers take no new job from it until it is resumed. */
  pauseQueue(queue: string): Promise<{ name: string; paused: boolean }> {
    return this.#guard(() => this.#ops.pause(queue), { idempotent: true });
  }

  resumeQueue(queue: string): Promise<{ name: string; paused: boolean }> {
    return this.#guard(() => this.#ops.resume(queue), { idempotent: true });
  }

  /** Removes jobs of one state older than `olderThanMs` (at most `limit`, default 1000). */
  cleanQueue(queue: string, request: CleanRequest): Promise<{ queue: string; state: string; removed: number }> {
    const r = parseRequest(cleanRequest, request, 'clean request');
    return this.#guard(() => this.#ops.clean(queue, r.state, r.olderThanMs, r.limit), {});
  }

  /** Counts per state, paused, connected workers and the oldest waiting job's age; of one queue or all. */
  queueSummary(queue: string): Promise<QueueSummary> {
    return this.#guard(() => this.#ops.summary(queue));
  }

  queueSummaries(): Promise<QueueSummary[]> {
    return this.#guard(() => this.#ops.summaries());
  }

  /** A job's state and result, or undefined when it does not exist (or retention removed it). */
  getJob(ref: JobRef): Promise<JobInfo | undefined> {
    return this.#guard(async () => {
      // State first, then the hash: a job seen as completed or failed is read with its final data.
      const found = await this.#queues.locate(ref.queue, ref.id);
      const job = found ? await found.queue.getJob(ref.id) : undefined;
      if (job && found) {
        const info = toInfo(job, ref.queue, found.state);
        return this.#queues.isSharded(ref.queue) ? { ...info, shard: this.#queues.logicalOf(found.queue).shard } : info;
      }
      // Not a job yet: an awaiting continuation, or a batch's (a join's) then job.
      const continuation = await this.#continuations.awaiting(ref);
      const awaiting = continuation ? { ...continuation, state: 'awaiting' } : await this.#batches.pendingThen(ref);
      if (!awaiting) return undefined;
      return {
        id: ref.id,
        queue: ref.queue,
        name: awaiting.name,
        state: awaiting.state,
        data: awaiting.data,
        progress: 0,
        attemptsMade: 0,
        returnValue: null,
        failedReason: null,
        createdAt: iso(awaiting.createdAt),
        processedAt: null,
        finishedAt: null,
      };
    });
  }

  /**
   * Resolves once Redis is connected. Calls made before that fail at once with
   * {@link UnavailableError}, so a service that just started may want to wait here first.
   * @throws UnavailableError after `timeoutMs`.
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (timeoutMs === Infinity) return this.#queues.ready();
    await withDeadline(this.#queues.ready(), timeoutMs, () => new UnavailableError(`Redis did not answer within ${timeoutMs} ms`));
  }

  /** Closes the client's connections. */
  close(): Promise<void> {
    return this.#queues.close();
  }
}

/** How long a call made right after the client was created waits for its first connection. */
const FIRST_CONNECT_WAIT_MS = 5000;

/** Resolves once `redis`'s first connection attempt has ended either way (bounded), never rejects. */
function firstAttempt(redis: Queues['redis']): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const e of ['ready', 'error', 'close'] as const) redis.off(e, done);
      resolve();
    };
    const timer = setTimeout(done, FIRST_CONNECT_WAIT_MS);
    timer.unref();
    for (const e of ['ready', 'error', 'close'] as const) redis.once(e, done);
  });
}

/** How to retry a call that failed on the connection (built only on a failure). */
/** What a guarded call writes, for its error when Redis fails: what makes a retry safe. */
interface WriteKind {
  jobId?: string;
  jobIds?: readonly string[];
  /** A batch: its id, which makes a retry safe. */
  batchId?: string;
  /** An enqueue with dedupe (which takes no jobId): the key that makes a retry safe. */
  dedupeKey?: string;
  idempotent?: boolean;
}

/** The retry advice of an error that is sure nothing was written. */
function retryHint(write: WriteKind | undefined): string {
  return write?.batchId !== undefined
    ? `; retry with the same batch id ${JSON.stringify(write.batchId)}`
    : write?.dedupeKey !== undefined
    ? '; retry later'
    : write?.jobId !== undefined
    ? `; retry with the same jobId ${JSON.stringify(write.jobId)}`
    : write?.jobIds !== undefined
      ? '; retry with the same jobIds (listed in jobIds)'
      : '; retry later';
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What an add created, as far as the add itself tells (#stored asks Redis for keyed and deduplicated jobs). */
function createdOf(p: Prepared, job: Job): Created {
  return {
    id: String(job.id),
    queue: p.queue,
    name: p.name,
    // BullMQ puts a job with a priority in its prioritized set, not the wait list.
    state: p.delay > 0 ? 'delayed' : p.opts.priority ? 'prioritized' : 'waiting',
    ...(p.shard !== undefined ? { shard: p.shard } : {}),
  };
}

/** The option a keyed add's nonce travels in (stored with the job's options; BullMQ ignores it). */
const ADD_NONCE = 'jcAdd';
type KeyedOptions = JobsOptions & { [ADD_NONCE]?: string };

/** What `enqueueOptions` makes of `{}` (every field is optional, none has a default): an enqueue without options skips the schema. */
const NO_OPTIONS: z.output<typeof enqueueOptions> = {};

/** True when every option is absent or undefined; tested without allocating (it runs per enqueue). */
function isEmpty(opts: EnqueueOptions): boolean {
  for (const key in opts) if ((opts as Record<string, unknown>)[key] !== undefined) return false;
  return true;
}

/** The client's `at: Date` as the shared schema's `runAt` string; an invalid Date stays invalid. */
function toRequestOptions(opts: EnqueueOptions): Record<string, unknown> {
  const { at, ...rest } = withoutUndefined(opts);
  if (at === undefined) return rest;
  const runAt = at instanceof Date && !Number.isNaN(at.getTime()) ? at.toISOString() : String(at);
  return { ...rest, runAt };
}

/** Builds a new sequence of jobs: `client.chain().then('a', {...}).then('b', {...}).enqueue()`. */
export class ChainBuilder<C extends ContractMap = ContractMap> {
  readonly #steps: { name: string; data: unknown; on: ContinueOn }[] = [];

  constructor(private readonly client: JobCenterClient<C>) {}

  /** Appends a step; `on` decides whether it also runs after the previous step failed. */
  then<N extends JobNameOf<C>>(name: N, data: PayloadInput<C[N]>, opts: { on?: ContinueOn } = {}): this {
    // A method named `then` makes the builder look like a promise: `await client.chain().then(…)`
    // calls it with the promise's resolve function. Say what was meant instead of "unknown job".
    if (typeof name === 'function') throw new ValidationError('A chain is not a promise: call .enqueue() on it (await client.chain().then(…).enqueue())');
    checkPayload(this.client.catalog.contractFor(name), data);
    this.#steps.push({ name, data, on: opts.on ?? 'success' });
    return this;
  }

  /** Enqueues the first step and registers the rest as continuations; returns every step. */
  async enqueue(): Promise<Created[]> {
    const [first, ...rest] = this.#steps;
    if (!first) throw new ValidationError('A chain needs at least one step');
    const created = [await this.client.add(first.name, first.data)];
    for (const step of rest) {
      const parent = created[created.length - 1]!;
      created.push(await this.client.continueWithUnchecked(parent, step.name, step.data, { on: step.on }));
    }
    return created;
  }
}

/** Options of {@link createClient}. */
export interface CreateClientOptions<C extends ContractMap> {
  /** The job types this client enqueues (name → `defineJob(...)`); enqueue calls are typed by it. */
  contracts: C;
  /** Where REDIS_URL, QUEUE_PREFIX, … are read. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** @defaultValue a pino logger named `job-center-client`, at LOG_LEVEL */
  logger?: Logger;
}

/**
 * A client for other Node services, configured from the environment (`REDIS_URL`, `QUEUE_PREFIX`,
 * … as the center's own processes read it) and typed by the service's own `contracts`.
 * Call `close()` when done.
 * @throws ConfigError naming each bad variable.
 */
export function createClient<const C extends ContractMap>(options: CreateClientOptions<C>): JobCenterClient<C> {
  const config = loadConfig(options.env ?? process.env, { contracts: options.contracts });
  return new JobCenterClient<C>(config, options.logger ?? createLogger(config, 'job-center-client'));
}

export { ConflictError, NotFoundError, UnavailableError, ValidationError };
