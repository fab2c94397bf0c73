import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from '../../src/redis/redis-server.js';
import { waitFor } from './processes.js';

/** The name under which the sentinel monitors the test master. */
export const MASTER_NAME = 'jcmaster';

/**
 * A master, one asynchronous replica and one sentinel (quorum 1, `down-after-milliseconds` 1000)
 * on free ports. One sentinel is enough to show failover and reconnection; production runs three.
 */
export interface TestSentinel {
  /** `REDIS_SENTINELS` for the center's processes. */
  readonly sentinels: string;
  readonly masterName: string;
  /** The two data nodes by port, whichever is master at the moment. */
  readonly servers: ReadonlyMap<number, RedisServer>;
  /** A connection to the sentinel. */
  readonly sentinel: Redis;
  /** The port the sentinel currently reports as master. */
  masterPort(): Promise<number>;
  /** A plain connection to one data node, closed by `stop()`. */
  node(port: number): Redis;
  /** Waits until the sentinel knows a healthy replica that is in sync with the master. */
  waitForHealthyReplica(timeoutMs?: number): Promise<number>;
  /** Waits until the sentinel reports a master other than `oldPort`; returns its port. */
  waitForNewMaster(oldPort: number, timeoutMs?: number): Promise<number>;
  /** The sentinel's output so far, as evidence. */
  output(): string;
  stop(): Promise<void>;
}

export async function startTestSentinel(): Promise<TestSentinel> {
  const root = mkdtempSync(join(tmpdir(), 'jc-sentinel-'));
  const servers = new Map<number, RedisServer>();
  const plain = new Map<number, Redis>();
  let child: ChildProcess | undefined;
  let sentinel: Redis | undefined;
  let log = '';
  const stop = async () => {
    sentinel?.disconnect();
    for (const c of plain.values()) c.disconnect();
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    // A server a test froze (SIGSTOP) would never act on SIGTERM.
    for (const s of servers.values()) if (s.process.exitCode === null && s.process.signalCode === null) s.process.kill('SIGCONT');
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  const node = (port: number): Redis => {
    let c = plain.get(port);
    if (!c) {
      c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
      c.on('error', () => {});
      plain.set(port, c);
    }
    return c;
  };
  try {
    const master = await startRedisServer({ dir: join(root, 'master'), appendonly: true });
    servers.set(master.port, master);
    const replica = await startRedisServer({
      dir: join(root, 'replica'),
      appendonly: true,
      args: ['--replicaof', '127.0.0.1', String(master.port)],
    });
    servers.set(replica.port, replica);
    await waitFor(
      async () => /master_link_status:up/.test(await node(replica.port).info('replication')),
      'the replica to finish its first sync',
      20_000,
      100,
    );

    const port = await freePort();
    const dir = join(root, 'sentinel');
    mkdirSync(dir);
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'daemonize no',
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    const proc = spawn('redis-sentinel', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor(() => log.includes('+monitor master'), 'redis-sentinel to start monitoring', 10_000);
    sentinel = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
    const s = sentinel;

    const masterPort = async (): Promise<number> => {
      const addr = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string] | null;
      if (!addr) throw new Error(`sentinel does not know ${MASTER_NAME}`);
      return Number(addr[1]);
    };
    const handle: TestSentinel = {
      sentinels: `127.0.0.1:${port}`,
      masterName: MASTER_NAME,
      servers,
      sentinel: s,
      masterPort,
      node,
      output: () => log,
      async waitForHealthyReplica(timeoutMs = 20_000) {
        // The sentinel's own view of a replica's link refreshes only every 10 s; ask the replica.
        return waitFor(
          async () => {
            const current = await masterPort();
            const replicas = (await s.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
            for (const flat of replicas) {
              const r = Object.fromEntries(flat.flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])));
              if (r.flags !== 'slave') continue;
              const info = await node(Number(r.port)).info('replication');
              if (info.includes('master_link_status:up') && info.includes(`master_port:${current}`)) return Number(r.port);
            }
            return 0;
          },
          'the sentinel to know a replica that is in sync with the master',
          timeoutMs,
          200,
        );
      },
      async waitForNewMaster(oldPort: number, timeoutMs = 30_000) {
        return waitFor(
          async () => {
            const p = await masterPort();
            return p !== oldPort ? p : 0;
          },
          `the sentinel to promote a new master (old: ${oldPort})`,
          timeoutMs,
          100,
        );
      },
      stop,
    };
    await handle.waitForHealthyReplica();
    return handle;
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\nsentinel output:\n${log}`, { cause: err });
  }
}
