import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from '../../src/redis/redis-server.js';
import { after, before } from 'node:test';
import { fileResources } from './center.js';
import { waitFor } from './processes.js';

const run = promisify(execFile);

/** A local Redis Cluster of masters only (no replicas), each on a free port with a free bus port. */
export interface TestCluster {
  readonly nodes: readonly RedisServer[];
  /** `REDIS_CLUSTER_NODES` for the center's processes: every master as host:port. */
  readonly seeds: string;
  /** A cluster client for assertions; closed by `stop()`. */
  readonly client: Cluster;
  /** The port of the master that serves `slot`. */
  portForSlot(slot: number): Promise<number>;
  /** A plain connection to one node, closed by `stop()`. */
  node(port: number): Redis;
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-servers with `--cluster-enabled yes` and joins them with
 * `redis-cli --cluster create` (slots split evenly), then waits until every node reports
 * `cluster_state:ok`. The bus port is chosen explicitly (`--cluster-port`) because port+10000 may
 * be taken or above 65535.
 */
export async function startTestCluster(masters = 3): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), 'jc-cluster-'));
  const nodes: RedisServer[] = [];
  const plain = new Map<number, Redis>();
  let client: Cluster | undefined;
  const stop = async () => {
    client?.disconnect();
    for (const c of plain.values()) c.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const used = new Set<number>();
    const pick = async () => {
      for (;;) {
        const p = await freePort();
        if (!used.has(p)) {
          used.add(p);
          return p;
        }
      }
    };
    for (let i = 0; i < masters; i++) {
      const port = await pick();
      const bus = await pick();
      const dir = join(root, `node-${i}`);
      nodes.push(
        await startRedisServer({
          dir,
          port,
          appendonly: false,
          args: [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', 'nodes.conf',
            '--cluster-port', String(bus),
            '--cluster-node-timeout', '5000',
          ],
        }),
      );
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 60_000 },
    );
    const node = (port: number): Redis => {
      let c = plain.get(port);
      if (!c) {
        c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
        c.on('error', () => {}); // expected once a test stops its node
        plain.set(port, c);
      }
      return c;
    };
    await waitFor(
      async () => {
        for (const n of nodes) {
          const info = await node(n.port).cluster('INFO');
          if (!String(info).includes('cluster_state:ok')) return false;
        }
        return true;
      },
      'every cluster node to report cluster_state:ok',
      30_000,
      200,
    );
    client = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), {
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    await new Promise<void>((resolve, reject) => {
      client!.once('ready', () => resolve());
      client!.once('error', reject);
    });
    const c = client;
    return {
      nodes,
      seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
      client: c,
      node,
      async portForSlot(slot: number) {
        const ranges = await c.cluster('SLOTS');
        const hit = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!hit?.[2]) throw new Error(`No node serves slot ${slot}`);
        return Number(hit[2][1]);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A 3-master cluster for one test file (started before its tests, stopped after them with every
 * process group and client made through it), as `useTestCenter` is for a single Redis.
 */
export function useTestCluster(masters = 3) {
  let cluster: TestCluster | undefined;
  const resources = fileResources();
  before(async () => {
    cluster = await startTestCluster(masters);
  });
  after(async () => {
    await resources.close();
    await cluster?.stop();
  });
  return {
    get cluster(): TestCluster {
      if (!cluster) throw new Error('useTestCluster: the cluster is not started yet (use it inside a test)');
      return cluster;
    },
    /** A process group stopped after the file. */
    group: resources.group,
    /** A test client closed after the file. */
    client: resources.client,
  };
}
