import { Queue } from 'bullmq';
import { JobCenterClient, type Created } from '../src/client.js';
import { loadConfig, type Config } from '../src/config.js';
import { jobs, sleep as sleepContract } from '../contracts/index.js';
import { Lifecycle } from '../src/lifecycle.js';
import { createLogger } from '../src/logger.js';
import { queuePrefix } from '../src/redis/connection.js';
import { defineHandler } from '../src/runtime/handler.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import realSleep from '../workers/handlers/sleep.js';
import type { BenchData } from './protocol.js';
import type { Recorder } from './recorder.js';
import type { BenchWorker, ProducerSide } from './sides.js';

/*
 * The center's side of every measurement: jobs go in through JobCenterClient (contract lookup,
 * payload validation, contract defaults) and run in startWorkerRuntime (validation, continuation
 * release, overlap check, timeout and shutdown plumbing), exactly as in production. Only the
 * handler body is the bench's: it is bound to the catalog's `sleep` contract and does nothing
 * unless told to run the shipped `sleep` handler (10 progress updates).
 */

function benchConfig(url: string, prefix: string, concurrency = 1, metrics = true): Config {
  return loadConfig({
    REDIS_URL: url,
    QUEUE_PREFIX: prefix,
    WORKER_QUEUES: sleepContract.queue,
    WORKER_CONCURRENCY: String(concurrency),
    SHUTDOWN_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'warn',
    WORKER_METRICS: String(metrics),
  }, { contracts: jobs });
}

export async function startCenterWorker(opts: {
  url: string;
  prefix: string;
  concurrency: number;
  metrics: boolean;
  recorder: Recorder;
  progressMode: () => boolean;
}): Promise<BenchWorker> {
  const config = benchConfig(opts.url, opts.prefix, opts.concurrency, opts.metrics);
  const logger = createLogger(config, 'bench-worker');
  const lifecycle = new Lifecycle(logger);
  const handler = defineHandler(sleepContract, (data, ctx) =>
    opts.recorder.run(
      { id: ctx.jobId, data: data as BenchData, tickMillis: ctx.job.repeatJobKey ? ctx.job.opts.prevMillis : undefined },
      opts.progressMode() ? () => realSleep.run(data, ctx) : undefined,
    ),
  );
  const runtime = await startWorkerRuntime({ config, logger, lifecycle, handlers: [handler] });
  return {
    setConcurrency(n) {
      for (const w of runtime.workers) w.concurrency = n;
    },
    close: () => lifecycle.shutdown(10_000),
  };
}

/** Enqueueing through the center's client. */
export class CenterSide implements ProducerSide {
  readonly kind = 'center' as const;
  readonly client: JobCenterClient;
  readonly queue: Queue;

  constructor(url: string, prefix: string) {
    const config = benchConfig(url, prefix);
    this.client = new JobCenterClient(config, createLogger(config, 'bench'));
    // The raw BullMQ queue of the same prefix, for the measurements that read it directly.
    this.queue = new Queue(sleepContract.queue, { connection: { url }, prefix: queuePrefix(config, sleepContract.queue) });
  }

  ready(): Promise<void> {
    return Promise.all([this.client.ready(), this.queue.waitUntilReady()]).then(() => undefined);
  }

  async add(data: BenchData, delay?: number): Promise<string> {
    const created = await this.client.enqueue('sleep', data, delay ? { delay } : {});
    return created.id;
  }

  /** `client.enqueueMany`: every job validated, then one addBulk. */
  async addBulk(items: BenchData[]): Promise<void> {
    await this.client.enqueueMany(items.map((data) => ({ name: 'sleep', data })));
  }

  async upsertSchedule(id: string, cron: string): Promise<void> {
    await this.client.recurring.upsert(id, { cron }, 'sleep', { ms: 0 });
  }

  async removeSchedule(id: string): Promise<void> {
    await this.client.recurring.remove(id);
  }

  /** A tracked parent job, then a continuation registered on it while it runs. */
  async chain(_tag: string, parentMs: number): Promise<string> {
    const parent: Created = await this.client.enqueue('sleep', { ms: parentMs, result: { track: true } });
    await this.client.continueWith(parent, 'sleep', { ms: 0, result: { after: parent.id } });
    return parent.id;
  }

  close(): Promise<void> {
    return Promise.all([this.client.close(), this.queue.close()]).then(() => undefined);
  }
}
