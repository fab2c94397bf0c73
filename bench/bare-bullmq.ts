import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowProducer, MetricsTime, Queue, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { sleep as sleepContract } from '../contracts/index.js';
import { jobOptions } from '../src/jobs/options.js';
import type { BenchData } from './protocol.js';
import type { Recorder } from './recorder.js';
import type { BenchWorker, ProducerSide } from './sides.js';

/*
 * The bare-BullMQ counterpart: a minimal program doing the same work with BullMQ alone. Jobs get
 * the same options the center applies from the `sleep` contract (attempts, backoff, retention),
 * so Redis stores and trims the same data on both sides and only the center's code differs.
 */
const QUEUE = sleepContract.queue;
const OPTS: JobsOptions = jobOptions(sleepContract);

export async function startBareWorker(opts: {
  url: string;
  prefix: string;
  concurrency: number;
  metrics: boolean;
  recorder: Recorder;
  progressMode: () => boolean;
}): Promise<BenchWorker> {
  const connection = new Redis(opts.url, { maxRetriesPerRequest: null });
  const worker = new Worker<BenchData>(
    QUEUE,
    (job) =>
      opts.recorder.run(
        { id: String(job.id), data: job.data, tickMillis: job.repeatJobKey ? job.opts.prevMillis : undefined },
        opts.progressMode()
          ? async () => {
              // The same work as the shipped `sleep` handler at ms 0: ten timer turns, ten updates.
              for (let step = 1; step <= 10; step++) {
                await sleep(0);
                await job.updateProgress(step * 10);
              }
            }
          : undefined,
      ),
    {
      connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency,
      // The center's default (WORKER_METRICS=true) or not, as the bench was told: same work on both sides.
      ...(opts.metrics ? { metrics: { maxDataPoints: MetricsTime.ONE_WEEK } } : {}),
    },
  );
  worker.on('error', () => {});
  await worker.waitUntilReady();
  return {
    setConcurrency(n) {
      worker.concurrency = n;
    },
    async close() {
      await worker.close();
      await connection.quit();
    },
  };
}

export class BareSide implements ProducerSide {
  readonly kind = 'bullmq' as const;
  readonly queue: Queue<BenchData>;
  readonly #flow: FlowProducer;
  readonly #connection: Redis;

  constructor(url: string, readonly prefix: string) {
    this.#connection = new Redis(url, { maxRetriesPerRequest: null });
    this.queue = new Queue<BenchData>(QUEUE, { connection: this.#connection, prefix });
    this.#flow = new FlowProducer({ connection: this.#connection, prefix });
  }

  async ready(): Promise<void> {
    await this.queue.waitUntilReady();
  }

  async add(data: BenchData, delay?: number): Promise<string> {
    const job = await this.queue.add('sleep', data, delay ? { ...OPTS, delay } : OPTS);
    return String(job.id);
  }

  /** `queue.add` with a UUID `jobId`: the idempotency key the center gives every enqueue (issue 10). */
  async addKeyed(data: BenchData): Promise<string> {
    const job = await this.queue.add('sleep', data, { ...OPTS, jobId: randomUUID() });
    return String(job.id);
  }

  /** `queue.addBulk` with a UUID `jobId` per job, as every job of `client.enqueueMany` carries. */
  async addBulkKeyed(items: BenchData[]): Promise<void> {
    await this.queue.addBulk(items.map((data) => ({ name: 'sleep', data, opts: { ...OPTS, jobId: randomUUID() } })));
  }

  async addBulk(items: BenchData[]): Promise<void> {
    await this.queue.addBulk(items.map((data) => ({ name: 'sleep', data, opts: OPTS })));
  }

  async upsertSchedule(id: string, cron: string): Promise<void> {
    await this.queue.upsertJobScheduler(id, { pattern: cron }, { name: 'sleep', data: { ms: 0 }, opts: OPTS });
  }

  async removeSchedule(id: string): Promise<void> {
    await this.queue.removeJobScheduler(id);
  }

  /**
   * BullMQ's own way to run B after A is a flow created together (B is the flow parent, A its
   * child); it has no way to attach B to an A that already exists, which is what the center adds.
   */
  async chain(tag: string, parentMs: number): Promise<string> {
    const first = `a-${tag}`;
    await this.#flow.add({
      name: 'sleep',
      queueName: QUEUE,
      data: { ms: 0, result: { after: first } },
      opts: OPTS,
      children: [{ name: 'sleep', queueName: QUEUE, data: { ms: parentMs, result: { track: true } }, opts: { ...OPTS, jobId: first } }],
    });
    return first;
  }

  async close(): Promise<void> {
    await this.#flow.close();
    await this.queue.close();
    await this.#connection.quit();
  }
}
