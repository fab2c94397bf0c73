import { BeeWorker } from './bare-bee.js';
import { startBareWorker } from './bare-bullmq.js';
import { startCenterWorker } from './center.js';
import type { Counts, Samples, ToChild, WorkerKind } from './protocol.js';
import { Recorder } from './recorder.js';
import type { BenchWorker } from './sides.js';

/*
 * A worker process of the bench: the center's runtime, a bare BullMQ Worker or a bee-queue worker
 * (BENCH_KIND), consuming the `batch` queue under BENCH_PREFIX. The parent steers it over IPC.
 */
const kind = process.env.BENCH_KIND as WorkerKind;
const url = process.env.BENCH_REDIS_URL ?? '';
const prefix = process.env.BENCH_PREFIX ?? '';
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? '1');
// BullMQ metrics (two commands in every finishing script): the same setting on both sides.
const metrics = process.env.BENCH_METRICS === 'true';
if (!process.send) throw new Error('worker-child must be started with an IPC channel');
const send = (msg: unknown): void => {
  process.send?.(msg);
};

const recorder = new Recorder(send);
let progressMode = false;
let worker: BenchWorker | undefined;
let bee: BeeWorker | undefined;
if (kind === 'center') {
  worker = await startCenterWorker({ url, prefix, concurrency, metrics, recorder, progressMode: () => progressMode });
} else if (kind === 'bullmq') {
  worker = await startBareWorker({ url, prefix, concurrency, metrics, recorder, progressMode: () => progressMode });
} else if (kind === 'bee') {
  bee = new BeeWorker(url, prefix, recorder);
} else {
  throw new Error(`BENCH_KIND must be center, bullmq or bee, got ${JSON.stringify(kind)}`);
}

async function handle(msg: ToChild): Promise<{ counts?: Counts; samples?: Samples }> {
  switch (msg.type) {
    case 'count':
      return { counts: recorder.counts() };
    case 'collect':
      return { counts: recorder.counts(), samples: recorder.samples };
    case 'reset':
      recorder.reset();
      return {};
    case 'concurrency':
      worker?.setConcurrency(msg.n);
      return {};
    case 'notify':
      recorder.notify = msg.on;
      return {};
    case 'progressMode':
      progressMode = msg.on;
      return {};
    case 'prepare':
      await bee?.prepare(msg.n);
      return {};
    case 'go':
      bee?.go();
      return {};
    case 'stop': {
      await worker?.close();
      await bee?.close();
      recorder.stop();
      return {};
    }
  }
}

process.on('message', (raw: ToChild & { seq: number }) => {
  handle(raw)
    .then((body) => {
      send({ type: 'reply', seq: raw.seq, ...body });
      if (raw.type === 'stop') {
        process.disconnect();
        // Exits by itself once everything is closed; this only bounds a leaked handle.
        setTimeout(() => process.exit(0), 2000).unref();
      }
    })
    .catch((err: Error) => send({ type: 'reply', seq: raw.seq, error: err.message }));
});

send({ type: 'ready', rss: process.memoryUsage.rss() });
