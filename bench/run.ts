import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { SHIPPED_HZ, startRedisServer } from '../src/redis/redis-server.js';
import { BareSide } from './bare-bullmq.js';
import { benchCluster } from './cluster.js';
import { CenterSide } from './center.js';
import { WorkerChild } from './children.js';
import { FULL, SCALED, SMOKE, type Bench, type Side, type Sizes } from './context.js';
import { benchEnqueue } from './enqueue.js';
import { benchFootprint, shippedWorkerIdleRss } from './footprint.js';
import { benchHttp } from './http.js';
import { benchContinuations, benchDelayError, benchPickup } from './latency.js';
import { now } from './protocol.js';
import { table, targets, type Results } from './report.js';
import { ROOT, RUNNING_COMPILED } from './root.js';
import { scheduleLateness } from './schedules.js';
import { compare, round2 } from './stats.js';
import { benchThroughput } from './throughput.js';

/*
 * `npm run bench [-- --smoke] [--out file.json] [--rounds n] [--scale k] [--only a,b] [--profile dir] [--child-import file]
 *  [--redis-args="--hz 100"]`
 * Starts a private redis-server (persistence off), a center worker process and a bare BullMQ
 * worker process, runs every measurement for both sides (alternating, several rounds), prints a
 * Markdown table and writes the results as JSON.
 */
const SECTIONS = ['enqueue', 'throughput', 'pickup', 'continuations', 'delay', 'schedule', 'footprint', 'http'] as const;

function usage(message: string): never {
  process.stderr.write(
    `bench: ${message}\nUsage: npm run bench -- [--smoke] [--out file.json] [--rounds n] [--scale k] [--only ${SECTIONS.join(',')}] [--profile dir] [--child-import file] [--redis-args="--hz 100"] [--quiet] | --cluster [--smoke] [--scale k]\n`,
  );
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    rounds: { type: 'string' },
    scale: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'string' },
    'child-import': { type: 'string' },
    'redis-args': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    worker: { type: 'string', default: 'dist' },
    metrics: { type: 'string', default: 'on' },
  },
  });
} catch (err) {
  usage((err as Error).message);
}
const args = parsed.values;

const sizes: Sizes = { ...(args.smoke ? SMOKE : FULL) };
if (args.rounds !== undefined) {
  const n = Number(args.rounds);
  if (!Number.isInteger(n) || n < 1 || n > 20) usage(`Expected --rounds to be an integer from 1 to 20, got ${args.rounds}`);
  sizes.rounds = n;
}
if (args.scale !== undefined) {
  // A fast machine finishes a 5,000-job measurement in a quarter of a second, where start-up and
  // JIT warm-up weigh as much as the steady state: --scale 4 makes each one four times longer.
  const k = Number(args.scale);
  if (!Number.isInteger(k) || k < 1 || k > 20) usage(`Expected --scale to be an integer from 1 to 20, got ${args.scale}`);
  for (const key of SCALED) sizes[key] *= k;
}
const scale = args.scale === undefined ? 1 : Number(args.scale);
const only = new Set(args.only ? args.only.split(',').map((x) => x.trim()) : SECTIONS);
for (const name of only) {
  if (!(SECTIONS as readonly string[]).includes(name)) usage(`Unknown --only section "${name}"; allowed: ${SECTIONS.join(', ')}`);
}
if (args.worker !== 'dist' && args.worker !== 'tsx') usage(`Expected --worker to be dist or tsx, got ${args.worker}`);
if (args.metrics !== 'on' && args.metrics !== 'off') usage(`Expected --metrics to be on or off, got ${args.metrics}`);
const compiled = args.worker === 'dist';
const metrics = args.metrics === 'on';
const outPath = resolve(args.out ?? join(ROOT, 'bench', 'results.json'));
const cpuProfDir = args.profile ? resolve(args.profile) : undefined;
const childImport = args['child-import'] ? pathToFileURL(resolve(args['child-import'])).href : undefined;
if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });

const started = now();
const log = (message: string): void => {
  if (!args.quiet) process.stderr.write(`[bench +${((now() - started) / 1000).toFixed(1)}s] ${message}\n`);
};

function versionOf(pkg: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Newest mtime of the .ts files the compiled bench is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['src', 'contracts', 'workers', 'producers', 'server', 'bench']) walk(join(ROOT, d));
  return newest;
}

if (compiled) {
  // The headline measures the compiled worker (dist/, as `npm run build` makes it and the Docker
  // image runs it); the bench's own worker-child is compiled alongside (tsconfig.bench.json).
  const built = join(ROOT, 'dist', 'bench', 'worker-child.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newestSource()) {
    log('compiling the sources and bench/ to dist/ (tsc -p tsconfig.bench.json)');
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.bench.json'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!RUNNING_COMPILED) {
    // The whole bench runs compiled, not only its workers: the producer side (client.enqueue, the
    // server's client) is library code too, and under tsx it measured about 20 % slower than the
    // compiled client production runs (esbuild's name-keeping helpers, among others).
    const run = spawnSync(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit' });
    process.exit(run.status ?? 1);
  }
}

if (args.cluster) {
  // A separate measurement (bench/cluster.ts): sharded queues on a local 3-master Redis Cluster.
  await benchCluster({ smoke: args.smoke, compiled, scale });
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'jc-bench-'));
// Extra redis-server flags, e.g. --redis-args="--hz 100" to see how Redis's timer rate bounds delay precision.
const redisArgs = args['redis-args'] ? args['redis-args'].split(/\s+/).filter(Boolean) : [];
const redis = await startRedisServer({ dir, appendonly: false, args: redisArgs });
const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
const children: WorkerChild[] = [];
const producers: { close(): Promise<void> }[] = [];

async function spawn(kind: WorkerChild['kind'], label: string, prefix: string, concurrency: number): Promise<WorkerChild> {
  const child = new WorkerChild(kind, label, { url: redis.url, prefix, concurrency, cpuProfDir, childImport, compiled, metrics });
  children.push(child);
  await child.ready;
  return child;
}

async function side(kind: 'center' | 'bullmq', prefix: string): Promise<Side> {
  const producer = kind === 'center' ? new CenterSide(redis.url, prefix) : new BareSide(redis.url, prefix);
  producers.push(producer);
  await producer.ready();
  return { kind, prefix, producer, worker: await spawn(kind, kind, prefix, 1) };
}

let exitCode = 0;
try {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
  log(`redis-server ${redisVersion} on ${redis.url}; rounds ${sizes.rounds}${args.smoke ? ' (smoke sizes)' : ''}`);
  const sides = { center: await side('center', 'bc'), bullmq: await side('bullmq', 'bb') };
  const bench: Bench = { url: redis.url, admin, sizes, sides, spawn, log };
  await new Promise((r) => setTimeout(r, 1000));
  const idle = { center: (await sides.center.worker.counts()).rss, bullmq: (await sides.bullmq.worker.counts()).rss };

  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      smoke: args.smoke,
      rounds: sizes.rounds,
      sizes,
      inFlight: sizes.inFlight,
      bulkBatch: sizes.bulkBatch,
      machine: { nproc: availableParallelism(), cpu, memoryGB: round2(totalmem() / 2 ** 30), loadavgAtStart: loadavg().map(round2) },
      node: process.version,
      redis: redisVersion,
      redisArgs,
      worker: compiled ? 'compiled (node dist/…)' : 'tsx (TypeScript loader)',
      bullmqMetrics: metrics ? 'on, both sides' : 'off, both sides',
      bullmq: versionOf('bullmq'),
      beeQueue: versionOf('bee-queue'),
    },
    targets: [],
  };
  if (only.has('enqueue')) results.enqueue = await benchEnqueue(bench);
  if (only.has('throughput')) results.throughput = await benchThroughput(bench);
  if (only.has('pickup')) results.pickup = await benchPickup(bench);
  if (only.has('continuations')) results.continuations = await benchContinuations(bench);
  if (only.has('delay')) results.delayError = await benchDelayError(bench);
  if (only.has('schedule')) {
    // The shipped Redis (npm start, docker-compose) runs at hz 100; a default one at 10.
    const hz = (await admin.config('GET', 'hz')) as string[];
    await admin.config('SET', 'hz', '10');
    results.scheduleDefaultHz = { ...(await scheduleLateness(bench, sizes.ticks, 'default-hz')), hz: 10 };
    await admin.config('SET', 'hz', String(SHIPPED_HZ));
    results.schedule = { ...(await scheduleLateness(bench, sizes.ticks, 'idle')), hz: SHIPPED_HZ };
    await admin.config('SET', 'hz', hz[1] ?? String(SHIPPED_HZ));
  }
  if (only.has('footprint')) {
    const stored = await benchFootprint(bench);
    const shipped = await shippedWorkerIdleRss(bench, ROOT, compiled);
    log(`footprint: the shipped worker (${compiled ? 'node dist/workers/main.js' : 'tsx workers/main.ts'}) idles at ${(shipped / 2 ** 20).toFixed(1)} MB`);
    const latenessWithLoad = await scheduleLateness(bench, sizes.loadedTicks, 'loaded');
    const mb = (x: number) => x / 2 ** 20;
    results.footprint = {
      ...stored,
      rssIdleMB: compare('MB', [mb(idle.center)], [mb(idle.bullmq)]),
      shippedIdleMB: round2(mb(shipped)),
      rssBusyMB: results.throughput?.rssBusyMB,
      latenessWithLoad,
    };
  }
  if (only.has('http')) {
    // The client's rate in the same run is the reference; measured here if the enqueue section was skipped.
    const clientRate = results.enqueue?.concurrent.center ?? (await benchEnqueue({ ...bench, sizes: { ...sizes, rounds: 1 } })).concurrent.center;
    results.http = await benchHttp(bench, ROOT, compiled, clientRate);
  }
  results.targets = targets(results);
  results.meta.durationSeconds = round2((now() - started) / 1000);
  results.meta.loadavgAtEnd = loadavg().map(round2);
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${table(results)}\n\nRounds: ${sizes.rounds}. Results written to ${outPath}\n`);
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  for (const c of children) if (c.output()) process.stderr.write(`--- ${c.label} output ---\n${c.output()}\n`);
  exitCode = 1;
} finally {
  await Promise.allSettled(children.map((c) => c.stop()));
  await Promise.allSettled(producers.map((p) => p.close()));
  admin.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
