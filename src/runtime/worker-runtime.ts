import { MetricsTime, type Job, type Worker } from 'bullmq';
import { CenterWorker } from '../queues/center-job.js';
import type { Config } from '../config.js';
import { repeatStrategy } from '../cron/repeat-strategy.js';
import { continuationHook, ContinuedParents, Continuations } from '../continuations/index.js';
import { DeadlineError, withDeadline } from '../deadline.js';
import { isRedisRefusing } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { JobTimings } from '../metrics/job-timings.js';
import { Queues } from '../queues.js';
import { checkEvictionPolicy, checkTimerPrecision, createRedis, queuePrefix } from '../redis/connection.js';
import { Schedules } from '../schedules.js';
import { runHistoryHook } from '../schedules/history-hook.js';
import { misfireHook } from '../schedules/misfire.js';
import { Batches } from '../batches/batches.js';
import { batchHook } from '../batches/hook.js';
import { thenHook } from '../schedules/then-hook.js';
import { PendingCancels, listenForCancels } from './cancel-listener.js';
import type { BoundHandler } from './handler.js';
import { runAfterHooks, type FinishOutcome, type JobHook } from './hooks.js';
import { overlapLockHook } from './overlap-lock.js';
import { processorFor, SHUTDOWN, type ActiveJob } from './processor.js';
import { Routing } from './routing.js';
import { RuntimeEvents, type WorkerRuntimeEvents } from './runtime-events.js';

export { JobTimeoutError } from './processor.js';

/** How long a worker takes no new job after Redis refused one (out of memory, cluster down). */
const REFUSED_BACKOFF_MS = 1000;
/** A worker error repeated within this long is counted, not logged again. */
const ERROR_LOG_INTERVAL_MS = 5000;

/** Logs a worker's errors: the first of a kind at once, repeats at most once per interval with their count. */
function throttledLog(logger: Logger, queue: string): (err: Error) => void {
  const last = new Map<string, { at: number; repeats: number }>();
  return (err) => {
    const now = Date.now();
    const seen = last.get(err.message);
    if (seen && now - seen.at < ERROR_LOG_INTERVAL_MS) {
      seen.repeats++;
      return;
    }
    if (last.size > 100) last.clear();
    last.set(err.message, { at: now, repeats: 0 });
    logger.warn({ queue, err: err.message, ...(seen?.repeats ? { repeatedSinceLastLog: seen.repeats } : {}) }, 'Worker error');
  };
}

/** How often a worker looks for shards that another process's larger K added. */
const SHARD_WATCH_MS = 10_000;

/** The running workers of one process. */
export interface WorkerRuntime {
  readonly workers: readonly Worker[];
  /** `ready`, `job.completed`, `job.failed`, `closed`: see WorkerRuntimeEvents. */
  readonly events: RuntimeEvents<WorkerRuntimeEvents>;
  /** Stops taking jobs, lets active ones finish until the shutdown deadline, then requeues the rest. */
  close(): Promise<void>;
}

/**
 * Starts one BullMQ Worker per configured queue that has handlers. Each job goes through
 * `processorFor` (routing, hooks, handler under its deadline); features that concern some jobs
 * only (continuations, overlap locks) are job hooks (see `hooks.ts` for their cost rule).
 */
export async function startWorkerRuntime(options: {
  config: Config;
  logger: Logger;
  lifecycle: Lifecycle;
  handlers: readonly BoundHandler[];
  /** Where to report events; pass one to hear `ready` too (it fires before this function returns). */
  events?: RuntimeEvents<WorkerRuntimeEvents>;
}): Promise<WorkerRuntime> {
  const { config, logger, lifecycle } = options;
  for (const h of options.handlers) {
    if (config.catalog.contracts[h.contract.name]?.queue !== h.contract.queue) {
      throw new Error(
        `The handler of "${h.contract.name}" (queue ${h.contract.queue}) has no contract of that name and queue in this process's job catalog; ` +
          'load the config with the same contracts the handlers use (loadConfig(env, { contracts }), or runProcess(..., { contracts }))',
      );
    }
  }
  const events = options.events ?? new RuntimeEvents<WorkerRuntimeEvents>(logger);
  const routing = new Routing(options.handlers);
  const queues = new Queues(config, logger, lifecycle);
  const continuations = new Continuations(queues, logger);
  const schedules = new Schedules(queues);
  const active = new Map<string, ActiveJob>();
  const pendingCancels = new PendingCancels(config, queues.redis);
  /** Set when the shutdown deadline passes; jobs that start later are handed back at once. */
  let shutdownPassed = false;
  const continued = new ContinuedParents(continuations.deps, logger);
  const batches = new Batches(queues, logger);
  const timings = new JobTimings(queues.redis, config, logger);
  const hooks: JobHook[] = [
    continuationHook(continuations.deps, continued),
    // Before the overlap lock: a tick dropped as missed must not take the lock.
    misfireHook({ queues, schedules, history: schedules.history, logger }),
    overlapLockHook({ config, redis: queues.redis, schedules }),
    // After the hooks that may skip a tick: a skipped or missed tick gets no then-job.
    thenHook({ continuations, schedules, logger }),
    runHistoryHook(schedules.history, logger),
    batchHook(batches),
  ];
  const completedOutcome = (job: Job): FinishOutcome => ({ state: 'completed', returnValue: job.returnvalue, final: true });
  const onHookError = (hook: JobHook, err: Error): void => {
    logger.warn({ hook: hook.name, err: err.message }, 'A job hook failed after the job finished');
  };

  const toRun = config.worker.queues.filter((q) => options.handlers.some((h) => h.contract.queue === q));
  for (const q of config.worker.queues.filter((x) => !toRun.includes(x))) {
    logger.warn({ queue: q }, 'No handler for any job of this queue; not consuming it');
  }
  const workers: Worker[] = [];
  const connections: ReturnType<typeof createRedis>[] = [];
  // The shard history (every K ever declared) decides how many shards each queue has.
  await queues.ready();
  // One BullMQ Worker per shard: a sharded queue is consumed on every shard ever used, so jobs of
  // an earlier, larger K still run.
  const consumed = new Set<string>();
  const startShard = (queue: string, bullName: string): Worker => {
    consumed.add(bullName);
    const connection = createRedis(config, 'worker', logger);
    connections.push(connection);
    const worker = new CenterWorker(bullName, processorFor({ queue, routing, hooks, logger, active, shutdownPassed: () => shutdownPassed, pendingCancels, jobLogMaxLines: config.worker.jobLogMaxLines }), {
      connection,
      prefix: queuePrefix(config, bullName),
      concurrency: config.worker.concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: config.worker.maxStalledCount,
      // Per-minute completed/failed counts for the board's charts and /metrics (one week kept);
      // two extra commands inside every job's finishing script, so WORKER_METRICS=false turns them off.
      ...(config.worker.metrics ? { metrics: { maxDataPoints: MetricsTime.ONE_WEEK } } : {}),
      autorun: false,
      // Workers add each next tick of a schedule: with the center's timetable (DST policy, seeded H).
      settings: { repeatStrategy },
    });
    // BullMQ asks for the next job again at once after an error Redis answered (not a lost
    // connection): on a Redis out of memory (noeviction) that spun thousands of times a second,
    // each one logged. Such a refusal pauses taking jobs for a second (running ones go on), and
    // repeats of one error are logged once per interval with their count.
    const logError = throttledLog(logger, queue);
    let backingOff = false;
    worker.on('error', (err) => {
      logError(err);
      if (backingOff || closing || !isRedisRefusing(err)) return;
      backingOff = true;
      void worker.pause(true).catch(() => {});
      setTimeout(() => {
        backingOff = false;
        if (!closing) void worker.resume();
      }, REFUSED_BACKOFF_MS).unref();
    });
    worker.on('stalled', (jobId) => logger.warn({ queue, job: jobId }, 'Job stalled (its worker died?); requeued'));
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      logger.warn(
        { queue, job: job.id, name: job.name, attempt: job.attemptsMade, final, err: err.message },
        final ? 'Job failed' : 'Job attempt failed; will retry',
      );
      if (final) timings.observe(queue, job);
      events.report('job.failed', job, err, final);
      runAfterHooks(hooks, job, () => ({ state: 'failed', failedReason: err.message, final }), onHookError);
    });
    worker.on('completed', (job) => {
      if (config.worker.crashAfterComplete === job.name) {
        // Fault-injection hook for tests: die between completion and continuation release.
        process.kill(process.pid, 'SIGKILL');
      }
      timings.observe(queue, job);
      events.report('job.completed', job, job.returnvalue);
      runAfterHooks(hooks, job, completedOutcome, onHookError);
    });
    workers.push(worker);
    return worker;
  };
  for (const queue of toRun) for (const q of queues.shardsOf(queue)) startShard(queue, q.name);

  // Another process may raise K (a deploy in progress): start consuming its new shards too.
  const shardWatch = setInterval(() => {
    queues
      .loadShards(0)
      .then(() => {
        if (closing) return;
        for (const queue of toRun) {
          for (const q of queues.shardsOf(queue)) {
            if (consumed.has(q.name)) continue;
            const worker = startShard(queue, q.name);
            void worker.run().catch((err: Error) => logger.error({ err: err.message }, 'Worker stopped unexpectedly'));
            logger.info({ queue, shard: queues.logicalOf(q).shard, shards: queues.shardCount(queue) }, 'Consuming a new shard');
          }
        }
      })
      .catch((err: Error) => logger.debug({ err: err.message }, 'Could not read the shard history'));
  }, SHARD_WATCH_MS);
  shardWatch.unref();

  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    Promise.all([
      continuations.sweep().catch((err: Error) => logger.debug({ err: err.message }, 'Continuation sweep failed')),
      batches.sweep().catch((err: Error) => logger.debug({ err: err.message }, 'Batch sweep failed')),
    ])
      .finally(() => {
        sweeping = false;
      });
  }, config.worker.continuationSweepMs);
  sweeper.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweeper);
      clearInterval(shardWatch);
      const graceful = Promise.all(workers.map((w) => w.close()));
      try {
        // SHUTDOWN_TIMEOUT_MS=0: no grace at all, every active job goes back at once (withDeadline
        // reads 0 as "no deadline", which would wait for every job instead).
        await withDeadline(graceful, config.worker.shutdownTimeoutMs > 0 ? config.worker.shutdownTimeoutMs : 1);
      } catch (err) {
        if (!(err instanceof DeadlineError)) throw err;
        // Also for jobs not in `active` yet: BullMQ may have taken one (it is active in Redis) whose
        // processor has not started; waiting for `graceful` would run it to its end.
        shutdownPassed = true;
        if (active.size > 0) {
          logger.warn({ active: active.size }, 'Shutdown deadline reached; returning unfinished jobs to their queue');
          for (const a of active.values()) a.abort.abort(SHUTDOWN);
        }
        await graceful;
      }
      await cancels.current?.close();
      await timings.close().catch(() => {});
      await Promise.allSettled([...connections.map((c) => c.quit()), continued.close()]);
      events.report('closed');
    })();
    return closing;
  };
  const cancels: { current?: { close(): Promise<void> } } = {};
  // Longer than the default cleanup deadline when SHUTDOWN_TIMEOUT_MS is: the workers end it themselves.
  lifecycle.add('workers', null, close, config.worker.shutdownTimeoutMs + 30_000);

  await checkEvictionPolicy(queues.redis, logger);
  await checkTimerPrecision(queues.redis, logger);
  // Before the first job: a finishing job must find its parent entry if somebody continues it.
  await continued.start();
  cancels.current = await listenForCancels(config, logger, active, pendingCancels);
  for (const w of workers) {
    void w.run().catch((err: Error) => logger.error({ err: err.message }, 'Worker stopped unexpectedly'));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const sharded = Object.fromEntries(toRun.filter((q) => queues.isSharded(q)).map((q) => [q, queues.shardCount(q)]));
  logger.info(
    { queues: toRun, ...(Object.keys(sharded).length > 0 ? { shards: sharded } : {}), concurrency: config.worker.concurrency, handlers: routing.names },
    'Worker started',
  );
  events.report('ready', { queues: toRun });
  return { workers, events, close };
}
