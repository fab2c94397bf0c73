import { MetricsTime, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Config } from '../config.js';
import { repeatStrategy } from '../cron/repeat-strategy.js';
import { CONTINUATION_PREFIX, Continuations } from '../continuations.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { Queues } from '../queues.js';
import { centerKey, checkEvictionPolicy, createRedis, queuePrefix } from '../redis/connection.js';
import { Schedules } from '../schedules.js';
import type { BoundHandler, JobContext } from './handler.js';

/** Thrown into a job that ran past its contract's `timeoutMs`; retried like any other failure. */
export class JobTimeoutError extends Error {
  override readonly name = 'JobTimeoutError';
}

const SHUTDOWN = Symbol('shutdown');

/**
 * A job's cancellation (timeout, shutdown). The AbortController behind `signal` is created only
 * when the handler reads `ctx.signal`: Node's AbortController costs several µs per job.
 */
class JobAbort {
  aborted = false;
  reason: unknown;
  /** Rejects with the reason once aborted; raced against the handler. */
  readonly promise: Promise<never>;
  #reject!: (reason: unknown) => void;
  #controller: AbortController | undefined;

  constructor() {
    this.promise = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    this.promise.catch(() => {});
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.#reject(reason);
  }
}

interface Active {
  job: Job;
  token: string | undefined;
  abort: JobAbort;
}

/** The running workers of one process. */
export interface WorkerRuntime {
  readonly workers: readonly Worker[];
  /** Stops taking jobs, lets active ones finish until the shutdown deadline, then requeues the rest. */
  close(): Promise<void>;
}

/**
 * Starts one BullMQ Worker per configured queue that has handlers. Jobs with an unknown name or
 * an invalid payload fail at once (not retried) with a reason naming the problem.
 */
export async function startWorkerRuntime(options: {
  config: Config;
  logger: Logger;
  lifecycle: Lifecycle;
  handlers: readonly BoundHandler[];
}): Promise<WorkerRuntime> {
  const { config, logger, lifecycle } = options;
  const byName = new Map(options.handlers.map((h) => [h.contract.name, h]));
  const queues = new Queues(config, logger, lifecycle);
  const continuations = new Continuations(queues, logger);
  const schedules = new Schedules(queues);
  const active = new Map<string, Active>();
  const overlapCache = new Map<string, { policy: string; until: number }>();

  async function overlapPolicy(schedulerId: string): Promise<string> {
    const hit = overlapCache.get(schedulerId);
    if (hit && hit.until > Date.now()) return hit.policy;
    const policy = (await schedules.meta(schedulerId))?.overlap ?? 'allow';
    overlapCache.set(schedulerId, { policy, until: Date.now() + 5000 });
    return policy;
  }

  function processorFor(queue: string) {
    // Two parameters on purpose: BullMQ creates an AbortController per job for processors that
    // declare a third (signal) parameter (worker.js processorAcceptsSignal); we cancel with our own.
    return async (job: Job, token?: string): Promise<unknown> => {
      const handler = byName.get(job.name);
      if (!handler || handler.contract.queue !== queue) {
        throw new UnrecoverableError(
          `No handler for job "${job.name}" on queue "${queue}"; this worker handles: ${[...byName.keys()].join(', ')}`,
        );
      }
      const parsed = handler.contract.schema.safeParse(job.data);
      if (!parsed.success) {
        const fields = parsed.error.issues.map((i) => `data.${i.path.join('.')}: ${i.message}`).join('; ');
        throw new UnrecoverableError(`Invalid payload for "${job.name}": ${fields}`);
      }
      const id = String(job.id);
      const cont = id.startsWith(CONTINUATION_PREFIX) ? await continuations.contextFor({ queue, id }) : undefined;
      if (cont?.cancelled) throw new UnrecoverableError(cont.cancelled);

      let lockKey: string | undefined;
      let lockTimer: NodeJS.Timeout | undefined;
      if (job.repeatJobKey && (await overlapPolicy(job.repeatJobKey)) === 'skip') {
        lockKey = centerKey(config, 'running', job.repeatJobKey);
        const ttl = config.worker.lockDurationMs;
        const got = await queues.redis.set(lockKey, id, 'PX', ttl, 'NX');
        const holder = got === 'OK' ? id : await queues.redis.get(lockKey);
        // The holder may be this very job, retried after its worker died holding the lock: run it.
        if (holder !== id) {
          return { skipped: true, reason: `previous run ${holder ?? ''} of schedule ${job.repeatJobKey} still active` };
        }
        lockTimer = setInterval(() => void queues.redis.pexpire(lockKey!, ttl).catch(() => {}), ttl / 2);
      }

      const abort = new JobAbort();
      active.set(id, { job, token, abort });
      const timeoutMs = handler.contract.defaults.timeoutMs;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => abort.abort(new JobTimeoutError(`Job exceeded its timeout of ${timeoutMs} ms`)), timeoutMs)
          : undefined;
      let jobLog: Logger | undefined;
      const ctx: JobContext = {
        job,
        jobId: id,
        attempt: job.attemptsMade + 1,
        get signal() {
          return abort.signal;
        },
        get log() {
          // Built on first use: most handlers never log, and a child logger costs per job.
          jobLog ??= logger.child({ queue, job: id, name: job.name, attempt: job.attemptsMade + 1 });
          return jobLog;
        },
        progress: (value) => job.updateProgress(value),
        parent: () => cont?.parent,
      };
      try {
        return await Promise.race([handler.run(parsed.data, ctx), abort.promise]);
      } catch (err) {
        if (abort.reason === SHUTDOWN) {
          // Past the shutdown deadline: hand the job back to the queue now instead of leaving it
          // "active" until its lock expires.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        throw err;
      } finally {
        clearTimeout(timer);
        active.delete(id);
        if (lockKey) {
          clearInterval(lockTimer);
          await queues.redis.del(lockKey).catch(() => {});
        }
      }
    };
  }

  const toRun = config.worker.queues.filter((q) => options.handlers.some((h) => h.contract.queue === q));
  for (const q of config.worker.queues.filter((x) => !toRun.includes(x))) {
    logger.warn({ queue: q }, 'No handler for any job of this queue; not consuming it');
  }
  const workers: Worker[] = [];
  const connections: ReturnType<typeof createRedis>[] = [];
  for (const queue of toRun) {
    const connection = createRedis(config, 'worker', logger);
    connections.push(connection);
    const worker = new Worker(queue, processorFor(queue), {
      connection,
      prefix: queuePrefix(config, queue),
      concurrency: config.worker.concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: config.worker.maxStalledCount,
      // Per-minute completed/failed counts for the board's charts and /metrics (one week kept).
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
      autorun: false,
      // Workers add each next tick of a schedule: with the center's timetable (DST policy, seeded H).
      settings: { repeatStrategy },
    });
    worker.on('error', (err) => logger.warn({ queue, err: err.message }, 'Worker error'));
    worker.on('stalled', (jobId) => logger.warn({ queue, job: jobId }, 'Job stalled (its worker died?); requeued'));
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      logger.warn(
        { queue, job: job.id, name: job.name, attempt: job.attemptsMade, final, err: err.message },
        final ? 'Job failed' : 'Job attempt failed; will retry',
      );
      if (final) {
        void continuations
          .onFinished({ queue, id: String(job.id) }, { state: 'failed', returnValue: null, failedReason: err.message })
          .catch((e: Error) => logger.warn({ err: e.message }, 'Could not release continuations; the sweeper will'));
      }
    });
    worker.on('completed', (job) => {
      if (config.worker.crashAfterComplete === job.name) {
        // Fault-injection hook for tests: die between completion and continuation release.
        process.kill(process.pid, 'SIGKILL');
      }
      void continuations
        .onFinished({ queue, id: String(job.id) }, { state: 'completed', returnValue: job.returnvalue ?? null, failedReason: null })
        .catch((e: Error) => logger.warn({ err: e.message }, 'Could not release continuations; the sweeper will'));
    });
    workers.push(worker);
  }

  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    continuations
      .sweep()
      .catch((err: Error) => logger.debug({ err: err.message }, 'Continuation sweep failed'))
      .finally(() => {
        sweeping = false;
      });
  }, config.worker.continuationSweepMs);
  sweeper.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweeper);
      const graceful = Promise.all(workers.map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), config.worker.shutdownTimeoutMs);
      });
      const result = await Promise.race([graceful, deadline]);
      clearTimeout(timer);
      if (result === 'deadline' && active.size > 0) {
        logger.warn({ active: active.size }, 'Shutdown deadline reached; returning unfinished jobs to their queue');
        for (const a of active.values()) a.abort.abort(SHUTDOWN);
        await graceful;
      }
      await Promise.allSettled(connections.map((c) => c.quit()));
    })();
    return closing;
  };
  lifecycle.add('workers', null, close);

  await queues.ready();
  await checkEvictionPolicy(queues.redis, logger);
  for (const w of workers) {
    void w.run().catch((err: Error) => logger.error({ err: err.message }, 'Worker stopped unexpectedly'));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info(
    { queues: toRun, concurrency: config.worker.concurrency, handlers: [...byName.keys()] },
    'Worker started',
  );
  return { workers, close };
}
