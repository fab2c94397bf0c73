import { setTimeout as sleep } from 'node:timers/promises';
import { now, type BenchData, type Counts, type Samples } from './protocol.js';

/** What a bench handler learns about the job it runs, whatever the queue library. */
export interface JobFacts {
  id: string;
  data: BenchData;
  /** The tick a Job Scheduler created this job for (BullMQ `opts.prevMillis`), if any. */
  tickMillis?: number;
}

/**
 * The measuring part of every worker child's handler: it stamps handler start and end, derives
 * pickup latency, schedule lateness, delay error and continuation hops from the payload, and
 * otherwise does nothing (a no-op job), so the numbers show the queue's cost alone.
 */
export class Recorder {
  count = 0;
  first = 0;
  last = 0;
  rssPeak = 0;
  notify = false;
  samples: Samples = { pickup: [], lateness: [], delayError: [], hops: [] };
  readonly #ends = new Map<string, number>();
  readonly #rssTimer: NodeJS.Timeout;
  #cpuBase = process.cpuUsage();

  constructor(private readonly send: (msg: unknown) => void) {
    this.#rssTimer = setInterval(() => {
      this.rssPeak = Math.max(this.rssPeak, process.memoryUsage.rss());
    }, 100);
    this.#rssTimer.unref();
  }

  /** Runs one job: `work` is the optional extra work of a mode (e.g. progress updates). */
  async run(job: JobFacts, work?: () => Promise<unknown>): Promise<unknown> {
    const t = now();
    if (this.first === 0) this.first = t;
    const r = job.data.result;
    if (r?.sent !== undefined) this.samples.pickup.push(t - r.sent);
    if (r?.due !== undefined) this.samples.delayError.push(t - r.due);
    if (job.tickMillis !== undefined) this.samples.lateness.push(t - job.tickMillis);
    if (r?.after !== undefined) {
      const end = this.#ends.get(r.after);
      if (end !== undefined) {
        this.samples.hops.push(t - end);
        this.#ends.delete(r.after);
      }
    }
    if (this.notify) this.send({ type: 'started', id: job.id, t, after: r?.after });
    if (job.data.ms > 0) await sleep(job.data.ms);
    const result = work ? await work() : null;
    const end = now();
    if (r?.track) this.#ends.set(job.id, end);
    this.last = end;
    this.count++;
    return result;
  }

  counts(): Counts {
    const rss = process.memoryUsage.rss();
    const cpu = process.cpuUsage(this.#cpuBase);
    return {
      count: this.count,
      first: this.first,
      last: this.last,
      rss,
      rssPeak: Math.max(this.rssPeak, rss),
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  }

  reset(): void {
    this.count = 0;
    this.first = 0;
    this.last = 0;
    this.rssPeak = 0;
    this.#cpuBase = process.cpuUsage();
    this.samples = { pickup: [], lateness: [], delayError: [], hops: [] };
  }

  stop(): void {
    clearInterval(this.#rssTimer);
  }
}
