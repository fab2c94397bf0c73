import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { watchSelect } from './database-check.js';

export type RedisClient = Redis | Cluster;

/**
 * What the connection is for. `worker` connections block and must retry forever
 * (`maxRetriesPerRequest: null`); `producer` connections fail fast while Redis is down
 * (`enableOfflineQueue: false`) so enqueue calls answer at once instead of hanging.
 */
export type ConnectionRole = 'worker' | 'producer';

function urlOptions(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

function hostPort(entry: string): { host: string; port: number } {
  const i = entry.lastIndexOf(':');
  return { host: entry.slice(0, i), port: Number(entry.slice(i + 1)) };
}

/** Reconnect forever with a capped backoff: a Redis outage must never end a process. */
const retryStrategy = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), 3000);

/**
 * A master that was demoted to a replica (a Sentinel failover, a returning old master) keeps its
 * client connections open but answers writes with READONLY. Reconnecting makes the client ask
 * Sentinel (or the cluster) again and find the new master; 2 = also resend the failed command,
 * which is safe because a READONLY command changed nothing.
 */
const reconnectOnReadOnly = (err: Error): 2 | false => (err.message.startsWith('READONLY') ? 2 : false);

/**
 * Opens a new Redis connection (standalone, Sentinel or Cluster, as configured). The caller owns it
 * and must `quit()` it. Errors are logged, throttled, never thrown as unhandled events.
 *
 * - Standalone: `REDIS_URL`.
 * - Sentinel: `REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`; user, password, db and TLS of the data
 *   nodes still come from `REDIS_URL` (its host is ignored), the sentinels' own password from
 *   `REDIS_SENTINEL_PASSWORD`. The client subscribes to `+switch-master` so a failover moves it at
 *   once instead of when its old socket happens to fail.
 * - Cluster: `REDIS_CLUSTER_NODES` are seeds; the client learns the rest of the topology from them.
 */
export function createRedis(config: Config, role: ConnectionRole, logger?: Logger): RedisClient {
  const base = urlOptions(config.redis.url);
  const common: RedisOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy,
    reconnectOnError: reconnectOnReadOnly,
    connectTimeout: 5000,
    lazyConnect: false,
    // Fail-fast connections only: a worker's connections block on purpose (BullMQ waits for jobs).
    ...(role === 'producer' && config.redis.commandTimeoutMs > 0 ? { commandTimeout: config.redis.commandTimeoutMs } : {}),
  };
  let client: RedisClient;
  if (config.redis.clusterNodes) {
    client = new Cluster(config.redis.clusterNodes.map(hostPort), {
      redisOptions: { ...common, username: base.username, password: base.password, tls: base.tls },
      enableOfflineQueue: role === 'worker',
      clusterRetryStrategy: retryStrategy,
      // Only masters: BullMQ reads its own writes, a replica may lag behind them.
      scaleReads: 'master',
      // Managed clusters (ElastiCache, MemoryDB) with TLS announce names their certificates are
      // issued for; resolving them to IPs first would fail the TLS host check.
      ...(base.tls ? { dnsLookup: (address: string, done: (err: null, address: string) => void) => done(null, address) } : {}),
    });
  } else if (config.redis.sentinels) {
    client = new Redis({
      ...common,
      sentinels: config.redis.sentinels.map(hostPort),
      name: config.redis.sentinelMaster,
      username: base.username,
      password: base.password,
      sentinelPassword: config.redis.sentinelPassword,
      db: base.db,
      tls: base.tls,
      enableTLSForSentinelMode: Boolean(base.tls),
      sentinelRetryStrategy: retryStrategy,
      failoverDetector: true,
    });
  } else {
    client = new Redis({ ...common, ...base });
  }
  watchSelect(client);
  // A connection must only end when its owner closes it. ioredis can end one on its own during a
  // Sentinel failover race (seen in the failover test); reconnect then instead of failing forever.
  let closedByOwner = false;
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.quit = ((...args: Parameters<typeof quit>) => {
    closedByOwner = true;
    return quit(...args);
  }) as typeof client.quit;
  client.disconnect = ((reconnect?: boolean) => {
    if (!reconnect) closedByOwner = true;
    return disconnect(reconnect);
  }) as typeof client.disconnect;
  const owned = client;
  owned.on('end', () => {
    if (closedByOwner) {
      // ioredis closes the failover detector's sentinel subscriptions on disconnect() but not on
      // quit(): without this they outlive the client, keep the event loop alive and keep reconnecting.
      if (config.redis.sentinels) disconnect();
      return;
    }
    logger?.warn({ role }, 'Redis connection ended unexpectedly; reconnecting');
    setTimeout(() => {
      if (!closedByOwner && owned.status === 'end') owned.connect().catch(() => {});
    }, 500).unref();
  });
  // An outage is logged when it starts and when it ends. A short one (Redis restarted within the
  // first reconnect delay) raises no error at all: the connection closes and the next attempt
  // succeeds, and the process said nothing about it.
  let lastError = 0;
  let wasReady = false;
  let troubled = false;
  client.on('close', () => {
    if (closedByOwner || !wasReady || troubled) return;
    troubled = true;
    logger?.warn({ role }, 'Redis connection lost; reconnecting');
  });
  client.on('error', (err: Error) => {
    troubled = true;
    const now = Date.now();
    if (now - lastError > 5000) {
      lastError = now;
      logger?.warn({ err: err.message, role }, 'Redis connection error; reconnecting with backoff');
    }
  });
  client.on('ready', () => {
    if (troubled) logger?.info({ role }, 'Redis connection restored');
    troubled = false;
    lastError = 0;
    wasReady = true;
  });
  return client;
}

/**
 * The BullMQ prefix for a queue. On a Cluster the queue name is hash-tagged so that all keys of one
 * queue share a slot (BullMQ's Lua scripts need that) while different queues spread over the nodes.
 */
export function queuePrefix(config: Config, queue: string): string {
  return config.redis.clusterNodes ? `${config.prefix}:{${queue}}` : config.prefix;
}

/** Key for the center's own bookkeeping (continuations, schedule metadata), outside BullMQ's keys. */
export function centerKey(config: Config, ...parts: string[]): string {
  return [config.prefix, 'jc', ...parts].join(':');
}

/**
 * Key for the center's bookkeeping about one queue's jobs (continuations, overlap locks). It carries
 * the queue's hash tag, so on a Cluster it lives in the same slot as the queue's BullMQ keys: a
 * script may touch both, and a job's own keys never send a request to another master.
 */
export function queueKey(config: Config, queue: string, ...parts: string[]): string {
  return [config.prefix, 'jc', `{${queue}}`, ...parts].join(':');
}

/** Below this Redis `hz`, schedules and delayed jobs start more than 20 ms late (see redis-server.ts). */
const PRECISE_HZ = 50;

/**
 * Warns once when Redis's timer is too slow for 20 ms schedule precision: a tick or delayed job
 * becomes runnable when a worker's blocked wait times out, which Redis notices only `hz` times per
 * second. The center's own Redis (`npm start`, docker-compose) runs at hz 100; someone else's
 * usually at the default 10 (up to 100 ms late). CONFIG may be disabled (managed Redis): say so.
 */
export async function checkTimerPrecision(client: RedisClient, logger: Logger): Promise<void> {
  try {
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      const reply = (await node.config('GET', 'hz')) as string[];
      const hz = Number(reply[1]);
      if (Number.isFinite(hz) && hz < PRECISE_HZ) {
        logger.warn(
          { hz },
          `Redis hz is ${hz}: schedules and delayed jobs may start up to ${Math.round(1000 / hz)} ms late, because Redis ` +
            `wakes blocked workers on its ${hz} Hz timer. For ~10 ms precision set "hz 100" in redis.conf (or CONFIG SET hz 100), ` +
            'at the cost of a little idle CPU in Redis',
        );
        return;
      }
    }
  } catch (err) {
    logger.info(
      { err: (err as Error).message },
      'Could not read Redis hz (CONFIG is disabled?): schedule precision depends on it (hz 10 = up to 100 ms late, hz 100 = ~10 ms)',
    );
  }
}

/** Warns once when Redis may evict keys: BullMQ needs `maxmemory-policy noeviction`. */
export async function checkEvictionPolicy(client: RedisClient, logger: Logger): Promise<void> {
  try {
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
      const policy = reply[1];
      if (policy && policy !== 'noeviction') {
        logger.warn(
          { policy },
          `Redis maxmemory-policy is "${policy}": set it to "noeviction" or Redis may delete queued jobs under memory pressure`,
        );
      }
    }
  } catch (err) {
    logger.debug({ err: (err as Error).message }, 'Could not read maxmemory-policy (CONFIG may be disabled)');
  }
}
