import { BareSide } from './bare-bullmq.js';
import { CenterSide } from './center.js';
import { dropKeys, order, pool, type Bench, type SideKind } from './context.js';
import { now, type BenchData } from './protocol.js';
import { compare, type Compared } from './stats.js';
import type { ProducerSide } from './sides.js';

/*
 * Enqueue rate, in the bench process, on scratch prefixes no worker consumes (keys dropped after
 * each measurement): JobCenterClient.enqueue vs queue.add, one at a time and with several calls in
 * flight; and bulk adds (see CenterSide.addBulk: the client has no bulk method) vs queue.addBulk.
 */
export interface EnqueueResult {
  sequential: Compared;
  concurrent: Compared;
  /** The center against a bare add that also sends a UUID `jobId`, as every center enqueue does. */
  concurrentKeyed: Compared;
  bulk: Compared;
  /** The center against a bare addBulk whose jobs carry UUID ids too. */
  bulkKeyed: Compared;
}

const DATA: BenchData = { ms: 0 };

async function rate(n: number, fn: () => Promise<void>): Promise<number> {
  const t0 = now();
  await fn();
  return n / ((now() - t0) / 1000);
}

export async function benchEnqueue(b: Bench): Promise<EnqueueResult> {
  const s = b.sizes;
  const prefixes: Record<SideKind, string> = { center: 'enq-c', bullmq: 'enq-b' };
  const bare = new BareSide(b.url, prefixes.bullmq);
  const producers: Record<SideKind, ProducerSide> = { center: new CenterSide(b.url, prefixes.center), bullmq: bare };
  await Promise.all(Object.values(producers).map((p) => p.ready()));
  const per = {
    sequential: { center: [] as number[], bullmq: [] as number[] },
    concurrent: { center: [] as number[], bullmq: [] as number[] },
    keyed: [] as number[],
    bulkKeyed: [] as number[],
    bulk: { center: [] as number[], bullmq: [] as number[] },
  };
  try {
    // Warm-up: script loading and JIT should not land in the first measured round.
    for (const p of Object.values(producers)) await pool(2000, 50, () => p.add(DATA));
    for (let round = 0; round < s.rounds; round++) {
      for (const kind of order(round)) {
        const p = producers[kind];
        per.sequential[kind].push(
          await rate(s.enqueueSequential, async () => {
            for (let i = 0; i < s.enqueueSequential; i++) await p.add(DATA);
          }),
        );
        per.concurrent[kind].push(await rate(s.enqueueConcurrent, () => pool(s.enqueueConcurrent, s.inFlight, () => p.add(DATA))));
        if (kind === 'bullmq') per.keyed.push(await rate(s.enqueueConcurrent, () => pool(s.enqueueConcurrent, s.inFlight, () => bare.addKeyed(DATA))));
        const batches = Math.ceil(s.enqueueBulk / s.bulkBatch);
        per.bulk[kind].push(
          await rate(batches * s.bulkBatch, async () => {
            for (let i = 0; i < batches; i++) await p.addBulk(Array.from({ length: s.bulkBatch }, () => DATA));
          }),
        );
        if (kind === 'bullmq') {
          per.bulkKeyed.push(
            await rate(batches * s.bulkBatch, async () => {
              for (let i = 0; i < batches; i++) await bare.addBulkKeyed(Array.from({ length: s.bulkBatch }, () => DATA));
            }),
          );
        }
        await dropKeys(b.admin, `${prefixes[kind]}:*`);
      }
      b.log(`enqueue round ${round + 1}/${s.rounds} done`);
    }
  } finally {
    await Promise.all(Object.values(producers).map((p) => p.close()));
  }
  return {
    sequential: compare('jobs/s', per.sequential.center, per.sequential.bullmq),
    concurrent: compare('jobs/s', per.concurrent.center, per.concurrent.bullmq),
    concurrentKeyed: compare('jobs/s', per.concurrent.center, per.keyed),
    bulk: compare('jobs/s', per.bulk.center, per.bulk.bullmq),
    bulkKeyed: compare('jobs/s', per.bulk.center, per.bulkKeyed),
  };
}
