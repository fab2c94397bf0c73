import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { JobCenterClient } from '../src/client.js';
import { loadConfig } from '../src/config.js';
import { jobs as appJobs } from '../contracts/index.js';
import { createLogger } from '../src/logger.js';
import { Queues } from '../src/queues.js';
import { ROOT } from './root.js';
import { startTestCluster, type TestCluster } from '../test/support/cluster.js';

/*
 * `npm run bench -- --cluster [--smoke]`: one logical queue on a local 3-master Redis Cluster, at
 * K = 1 (one BullMQ queue, one slot, one master) and K = 3 (three shards). For each K: the queue is
 * filled with no-op jobs (`hello-world`, its log line below LOG_LEVEL), then real worker processes
 * (`node dist/workers/main.js`, or tsx with `--worker tsx`) drain it. Reports jobs/s over the
 * middle of the drain and each master's CPU
 * (INFO cpu deltas of its main process over the same window).
 *
 * Where Redis is the bottleneck, K = 3 should reach about 3× K = 1 (target ≥ 2.5×). On a machine with
 * few cores the worker processes, not Redis, are the bottleneck, and the measured ratio shows that
 * instead: the report prints the machine with the numbers. It also prints the **Redis-bound
 * ceiling** of each K: the rate at which its busiest master would reach 100 % CPU at the Redis CPU
 * per job measured (jobs/s × 100 / busiest master's CPU %). That is what Redis allows once it is
 * the bottleneck, and it can be measured on any machine; its ratio is the target's stand-in where
 * the machine cannot make Redis the bottleneck. It assumes CPU per job stays as measured: a busier
 * master batches more and spends less per job, which favours K = 1's ceiling (its master is the
 * busier one), so the stand-in errs against sharding.
 */


interface Row {
  k: number;
  jobs: number;
  jobsPerSec: number;
  /** CPU % (user + sys of redis-server) per master, in port order. */
  masterCpu: number[];
  seconds: number;
}

/** Jobs/s at which the busiest master would reach 100 % CPU, at the CPU per job measured. */
const ceiling = (r: Row): number => (r.jobsPerSec * 100) / Math.max(...r.masterCpu);

async function cpuSeconds(node: Redis): Promise<number> {
  const info = await node.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** The shipped worker, compiled (`node dist/workers/main.js`) unless `--worker tsx`. */
function startWorkers(env: NodeJS.ProcessEnv, n: number, compiled: boolean): ChildProcess[] {
  const args = compiled ? [resolve(ROOT, 'dist/workers/main.js')] : ['--import', 'tsx', resolve(ROOT, 'workers/main.ts')];
  return Array.from({ length: n }, () =>
    spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          c.once('exit', () => done());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
}

async function measure(cluster: TestCluster, k: number, jobs: number, processes: number, concurrency: number, compiled: boolean): Promise<Row> {
  const env = {
    REDIS_CLUSTER_NODES: cluster.seeds,
    QUEUE_PREFIX: `bench-k${k}-${Date.now()}`,
    QUEUE_SHARDS: `default:${k}`,
    WORKER_QUEUES: 'default',
    WORKER_CONCURRENCY: String(concurrency),
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env, { contracts: appJobs });
  const logger = createLogger(config, 'bench');
  const client = new JobCenterClient(config, logger);
  // The queues themselves, to count what is left on each shard.
  const queues = new Queues(config, logger);
  await Promise.all([client.ready(), queues.ready()]);
  // Fill first, so the drain measures processing only.
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next++ < jobs) await client.enqueue('hello-world', {});
    }),
  );
  const shards = queues.shardsOf('default');
  const waiting = async () => (await Promise.all(shards.map((q) => q.getWaitingCount()))).reduce((a, b) => a + b, 0);
  const masters = cluster.nodes.map((n) => cluster.node(n.port));

  const workers = startWorkers(env, processes, compiled);
  // The window: from 90 % left to 10 % left, so worker start-up and the tail do not count.
  let start: { at: number; left: number; cpu: number[] } | undefined;
  let end: { at: number; left: number; cpu: number[] } | undefined;
  const deadline = Date.now() + 600_000;
  while (!end && Date.now() < deadline) {
    const left = await waiting();
    const at = performance.now();
    if (!start && left <= jobs * 0.9) start = { at, left, cpu: await Promise.all(masters.map(cpuSeconds)) };
    else if (start && left <= jobs * 0.1) end = { at, left, cpu: await Promise.all(masters.map(cpuSeconds)) };
    else await new Promise((r) => setTimeout(r, 100));
  }
  await stopWorkers(workers);
  await Promise.all([client.close(), queues.close()]);
  if (!start || !end) throw new Error(`K=${k}: the queue did not drain within 10 minutes`);
  const seconds = (end.at - start.at) / 1000;
  return {
    k,
    jobs,
    seconds,
    jobsPerSec: (start.left - end.left) / seconds,
    masterCpu: end.cpu.map((c, i) => (100 * (c - start!.cpu[i]!)) / seconds),
  };
}

/** `scale` multiplies the job count: a 16-core machine drains 20,000 jobs in about a second. */
export async function benchCluster(options: { smoke: boolean; compiled: boolean; scale: number }): Promise<void> {
  const jobs = (options.smoke ? 2000 : 20_000) * options.scale;
  const processes = options.smoke ? 1 : Math.max(2, Math.min(8, availableParallelism() - 3));
  const concurrency = 50;
  const cluster = await startTestCluster(3);
  const rows: Row[] = [];
  try {
    for (const k of [1, 3]) rows.push(await measure(cluster, k, jobs, processes, concurrency, options.compiled));
  } finally {
    await cluster.stop();
  }
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB, load average before ${loadavg()[0]!.toFixed(1)}`;
  const ports = cluster.nodes.map((n) => n.port);
  const lines = [
    `## Cluster: one logical queue, K = 1 vs K = 3 shards on 3 masters`,
    '',
    `Machine: ${machine}. ${jobs} no-op jobs per K, ${processes} worker process(es) × concurrency ${concurrency} per shard.`,
    '',
    `| K | jobs/s | ${ports.map((p) => `:${p} CPU %`).join(' | ')} | Redis-bound ceiling (jobs/s) |`,
    `| --- | --- | ${ports.map(() => '---').join(' | ')} | --- |`,
    ...rows.map((r) => `| ${r.k} | ${Math.round(r.jobsPerSec)} | ${r.masterCpu.map((c) => c.toFixed(0)).join(' | ')} | ${Math.round(ceiling(r))} |`),
    '',
  ];
  const [one, three] = rows;
  if (one && three) {
    const ratio = three.jobsPerSec / one.jobsPerSec;
    const redisBound = Math.max(...one.masterCpu) >= 90;
    lines.push(
      `K = 3 / K = 1: ${ratio.toFixed(2)}× (target ≥ 2.5× where Redis is the bottleneck): ${ratio >= 2.5 ? 'met' : 'missed'}` +
        (redisBound
          ? '.'
          : `; at K = 1 the busiest master was at ${Math.max(...one.masterCpu).toFixed(0)} % CPU, so Redis was not the bottleneck on this machine and the measured ratio cannot show the target.`),
    );
    const bound = ceiling(three) / ceiling(one);
    lines.push(
      `Redis-bound ceiling, K = 3 / K = 1: ${bound.toFixed(2)}× (target ≥ 2.5× where Redis is the bottleneck): ${bound >= 2.5 ? 'met' : 'missed'}` +
        ' (each K\'s rate at which its busiest master reaches 100 % CPU, from the Redis CPU per job measured).',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
