import type { FootprintResult } from './footprint.js';
import type { EnqueueResult } from './enqueue.js';
import type { Pair, PickupResult } from './latency.js';
import type { Compared } from './stats.js';
import type { ThroughputResult } from './throughput.js';

/** Everything `npm run bench` writes as JSON. Sections are absent only when skipped with --only. */
export interface Results {
  meta: Record<string, unknown>;
  enqueue?: EnqueueResult;
  throughput?: ThroughputResult;
  pickup?: PickupResult;
  continuations?: Pair & { parentMs: number };
  delayError?: Pair;
  /** Lateness on the shipped Redis (hz 100)… */
  schedule?: Pair & { ticks: number; hz?: number };
  /** …and on a default one (hz 10). */
  scheduleDefaultHz?: Pair & { ticks: number; hz: number };
  footprint?: FootprintResult & {
    rssIdleMB: Compared;
    /** Idle RSS of the shipped worker entry (node dist/workers/main.js), MB. */
    shippedIdleMB?: number;
    rssBusyMB?: Compared;
    latenessWithLoad: Pair & { ticks: number };
  };
  http?: HttpResult;
  sweep?: { pending: number; seconds: number; sweepMs: number; cpuPercent: number };
  targets: Target[];
}

/** One route under autocannon. */
export interface HttpRoute {
  route: string;
  requestsPerSec: number;
  jobsPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export interface HttpResult {
  connections: number;
  seconds: number;
  single: HttpRoute;
  bulk: HttpRoute;
  /** client.enqueue with 50 in flight, measured in the same run. */
  clientRate: number;
}

export interface Target {
  name: string;
  /** center / bare, or an absolute value for targets whose name gives a unit (ms, MB). */
  ratio: number;
  /** `>=` means ratio must be at least `bound`. */
  op: '>=' | '<=';
  bound: number;
  met: boolean;
}

export function targets(r: Results): Target[] {
  const out: Target[] = [];
  const t = (name: string, ratio: number, op: '>=' | '<=', bound: number) =>
    out.push({ name, ratio, op, bound, met: op === '>=' ? ratio >= bound : ratio <= bound });
  if (r.enqueue) {
    t('enqueue single, sequential', r.enqueue.sequential.ratio, '>=', 0.95);
    t('enqueue single, concurrent', r.enqueue.concurrent.ratio, '>=', 0.95);
    t('enqueue bulk', r.enqueue.bulk.ratio, '>=', 0.95);
  }
  if (r.throughput) {
    t('throughput c=1', r.throughput.c1.ratio, '>=', 0.97);
    t('throughput c=10', r.throughput.c10.ratio, '>=', 0.97);
    t('throughput c=50', r.throughput.c50.ratio, '>=', 0.97);
    t('throughput 2 processes', r.throughput.twoProcesses.ratio, '>=', 0.97);
    t('round trips per job', r.throughput.roundTrips.center / r.throughput.roundTrips.bullmq, '<=', 1.02);
  }
  if (r.continuations) t('continuation hop p50 vs BullMQ flow', r.continuations.center.p50 / r.continuations.bullmq.p50, '<=', 1.5);
  if (r.pickup) {
    t('pickup p99 idle', r.pickup.idle.p99Ratio, '<=', 1.2);
    t('pickup p99 under load', r.pickup.load.p99Ratio, '<=', 1.2);
  }
  if (r.schedule) {
    t('schedule lateness p99', r.schedule.p99Ratio, '<=', 1);
    t('schedule lateness p99 on the shipped Redis (ms)', r.schedule.center.p99, '<=', 20);
  }
  if (r.footprint) {
    t('schedule lateness p99, many delayed jobs and schedules present', r.footprint.latenessWithLoad.p99Ratio, '<=', 1);
    // The target is about the worker users run; the harness children (below) also carry the bench's recorder and client.
    t('idle worker RSS (MB)', r.footprint.shippedIdleMB ?? r.footprint.rssIdleMB.center, '<=', 100);
  }
  return out;
}

const fmt = (x: number | undefined, digits = 0): string =>
  x === undefined || Number.isNaN(x) ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The results as a Markdown table (also what the terminal shows). */
export function table(r: Results): string {
  const rows: string[][] = [];
  const head = (title: string) => rows.push([`**${title}**`, '', '', '', '']);
  const row = (name: string, center: string, bullmq: string, ratio: string, note = '') => rows.push([name, center, bullmq, ratio, note]);
  const cmp = (name: string, c: Compared, digits = 0, note = '') =>
    row(name, fmt(c.center, digits), fmt(c.bullmq, digits), fmt(c.ratio, 3), note);
  const lat = (name: string, p: Pair, note = '') => {
    row(`${name} p50`, fmt(p.center.p50, 1), fmt(p.bullmq.p50, 1), fmt(p.center.p50 / p.bullmq.p50, 2));
    row(`${name} p99`, fmt(p.center.p99, 1), fmt(p.bullmq.p99, 1), fmt(p.p99Ratio, 2), note);
    row(`${name} max`, fmt(p.center.max, 1), fmt(p.bullmq.max, 1), fmt(p.center.max / p.bullmq.max, 2), `n=${p.center.n}/${p.bullmq.n}`);
  };
  const mark = (name: string) => {
    const found = r.targets.find((x) => x.name === name);
    return found ? `target ${found.op} ${found.bound}: ${found.met ? 'met' : 'MISSED'}` : '';
  };
  if (r.enqueue) {
    head('Enqueue (jobs/s): client.enqueue vs queue.add');
    cmp('single adds, one at a time', r.enqueue.sequential, 0, mark('enqueue single, sequential'));
    cmp(`single adds, ${r.meta.inFlight} in flight`, r.enqueue.concurrent, 0, mark('enqueue single, concurrent'));
    cmp(
      `single adds, ${r.meta.inFlight} in flight; bare with a UUID jobId`,
      r.enqueue.concurrentKeyed,
      0,
      'the bare add also sends the idempotency key every center enqueue carries',
    );
    cmp(`bulk, batches of ${r.meta.bulkBatch} (validated addBulk)`, r.enqueue.bulk, 0, mark('enqueue bulk'));
    cmp(`bulk, batches of ${r.meta.bulkBatch}; bare with UUID jobIds`, r.enqueue.bulkKeyed, 0, 'the bare addBulk also sends an idempotency key per job');
  }
  if (r.throughput) {
    const tp = r.throughput;
    head(
      `Processing no-op jobs (jobs/s): startWorkerRuntime (every job hook installed: run history, misfire, overlap lock, then, continuations, batches) vs Worker; ${String(r.meta.worker)}, BullMQ metrics ${String(r.meta.bullmqMetrics)}`,
    );
    cmp('1 process, concurrency 1', tp.c1, 0, mark('throughput c=1'));
    cmp('1 process, concurrency 10', tp.c10, 0, mark('throughput c=10'));
    cmp('1 process, concurrency 50', tp.c50, 0, mark('throughput c=50'));
    cmp('2 processes, concurrency 10 each', tp.twoProcesses, 0, mark('throughput 2 processes'));
    cmp('shipped `sleep` work at ms 0 (10 progress updates), c=10', tp.progressUpdates, 0, 'both sides do the same updates');
    for (const label of ['c=10', '2 processes x c=10']) {
      const cpu = tp.cpuPerJobUs[label];
      if (cpu) {
        cmp(`worker CPU per job, ${label} (µs)`, cpu.worker, 0, 'user+system of the worker process(es)');
        cmp(`redis-server CPU per job, ${label} (µs)`, cpu.redis, 0);
      }
    }
    row('Redis round trips per job (MONITOR, c=10)', fmt(tp.roundTrips.center, 2), fmt(tp.roundTrips.bullmq, 2), fmt(tp.roundTrips.center / tp.roundTrips.bullmq, 2), mark('round trips per job'));
    row('bee-queue reference, c=1 / 10 / 50', '', '', '', `${fmt(tp.bee.c1)} / ${fmt(tp.bee.c10)} / ${fmt(tp.bee.c50)} jobs/s`);
  }
  if (r.pickup) {
    head(`Pickup latency, enqueue → handler start (ms), concurrency ${r.pickup.concurrency}`);
    lat('idle', r.pickup.idle, mark('pickup p99 idle'));
    lat(`under load (${r.pickup.load.rate} jobs/s)`, r.pickup.load, mark('pickup p99 under load'));
  }
  if (r.scheduleDefaultHz) {
    head(`Schedule lateness, per-second cron, ${r.scheduleDefaultHz.ticks} ticks (ms), default Redis (hz ${r.scheduleDefaultHz.hz})`);
    lat('lateness', r.scheduleDefaultHz);
  }
  if (r.schedule) {
    head(`Schedule lateness, per-second cron, ${r.schedule.ticks} ticks (ms), shipped Redis (hz ${r.schedule.hz ?? '?'})`);
    lat('lateness', r.schedule, `${mark('schedule lateness p99')}; ${mark('schedule lateness p99 on the shipped Redis (ms)')}`);
  }
  if (r.delayError) {
    head('Delayed jobs (100-1000 ms): start − due (ms)');
    lat('delay error', r.delayError);
  }
  if (r.continuations) {
    head('Continuation hop, parent handler end → next job start (ms)');
    lat('hop', r.continuations, 'bare = BullMQ flow (child → parent)');
    row('', '', '', '', mark('continuation hop p50 vs BullMQ flow'));
  }
  if (r.footprint) {
    const f = r.footprint;
    head('Footprint');
    if (f.shippedIdleMB !== undefined) row('shipped worker RSS idle, node dist/workers/main.js (MB)', fmt(f.shippedIdleMB, 1), '', '', mark('idle worker RSS (MB)'));
    cmp('bench harness worker RSS idle (MB)', f.rssIdleMB, 1, 'harness children: the worker plus the bench recorder and client');
    if (f.rssBusyMB) cmp('worker RSS busy, peak at c=50 (MB)', f.rssBusyMB, 1);
    row(
      `Redis memory, ${fmt(f.delayed.center.count)} delayed jobs (MB)`,
      fmt(f.delayed.center.mb, 1),
      fmt(f.delayed.bullmq.mb, 1),
      fmt(f.delayed.center.mb / f.delayed.bullmq.mb, 2),
      `${f.delayed.center.bytesEach} / ${f.delayed.bullmq.bytesEach} bytes per job`,
    );
    row(
      `Redis memory, ${fmt(f.schedules.center.count)} schedules (MB)`,
      fmt(f.schedules.center.mb, 1),
      fmt(f.schedules.bullmq.mb, 1),
      fmt(f.schedules.center.mb / f.schedules.bullmq.mb, 2),
      `${f.schedules.center.bytesEach} / ${f.schedules.bullmq.bytesEach} bytes per schedule`,
    );
    lat(`lateness with them present, ${f.latenessWithLoad.ticks} ticks`, f.latenessWithLoad, mark('schedule lateness p99, many delayed jobs and schedules present'));
  }
  if (r.http) {
    head(`HTTP enqueue under load (autocannon, ${r.http.connections} connections, ${r.http.seconds} s)`);
    for (const h of [r.http.single, r.http.bulk]) {
      row(`${h.route}: requests/s`, fmt(h.requestsPerSec), '', '', `${fmt(h.jobsPerSec)} jobs/s; non-2xx ${h.non2xx}, errors ${h.errors}`);
      row(`${h.route}: latency p50 / p99 (ms)`, `${fmt(h.p50, 1)} / ${fmt(h.p99, 1)}`, '', '', '');
    }
    row('client.enqueue, 50 in flight, same run (jobs/s)', fmt(r.http.clientRate), '', '', 'the in-process client, for comparison');
  }
  if (r.sweep) {
    head(`Continuation sweep with ${fmt(r.sweep.pending)} pending continuations`);
    row('worker CPU while idle (% of a core)', fmt(r.sweep.cpuPercent, 2), '', '', `over ${r.sweep.seconds} s, sweeping every ${r.sweep.sweepMs} ms`);
  }
  row('**Targets**', '', '', '', `${r.targets.filter((x) => x.met).length} of ${r.targets.length} met`);
  for (const x of r.targets) row(x.name, fmt(x.ratio, 3), '', '', `${x.op} ${x.bound}: ${x.met ? 'met' : 'MISSED'}`);
  const header = ['measurement', 'center', 'bare BullMQ', 'ratio', 'note'];
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
