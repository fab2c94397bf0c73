import BeeQueue from 'bee-queue';
import type { BenchData } from './protocol.js';
import type { Recorder } from './recorder.js';

/*
 * bee-queue, a lighter Redis queue, as a reference point for throughput only. Its worker keeps no
 * succeeded jobs (`removeOnSuccess`) and sends no events beyond its defaults; jobs have no retries.
 */
const QUEUE = 'batch';

function redisOptions(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/** A bee-queue worker that can be reopened with another concurrency (bee-queue fixes it at process()). */
export class BeeWorker {
  #queue: BeeQueue<BenchData> | undefined;
  #concurrency = 1;

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly recorder: Recorder,
  ) {}

  async prepare(concurrency: number): Promise<void> {
    await this.close();
    this.#concurrency = concurrency;
    this.#queue = new BeeQueue<BenchData>(QUEUE, {
      prefix: this.prefix,
      redis: redisOptions(this.url),
      getEvents: false,
      removeOnSuccess: true,
    });
    await this.#queue.ready();
  }

  go(): void {
    this.#queue?.process(this.#concurrency, (job) => this.recorder.run({ id: job.id, data: job.data }));
  }

  async close(): Promise<void> {
    const q = this.#queue;
    this.#queue = undefined;
    if (q) await q.close(5000);
  }
}

/** Fills a bee-queue queue from the bench process. */
export class BeeProducer {
  readonly #queue: BeeQueue<BenchData>;

  constructor(url: string, prefix: string) {
    this.#queue = new BeeQueue<BenchData>(QUEUE, { prefix, redis: redisOptions(url), isWorker: false, getEvents: false });
  }

  async ready(): Promise<void> {
    await this.#queue.ready();
  }

  async addBulk(items: BenchData[]): Promise<void> {
    const failed = await this.#queue.saveAll(items.map((d) => this.#queue.createJob(d)));
    if (failed.size > 0) throw new Error(`bee-queue saveAll failed for ${failed.size} jobs`);
  }

  close(): Promise<void> {
    return this.#queue.close(5000);
  }
}
