import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../src/redis/redis-server.js';

/**
 * A private redis-server for one test file, on a free port (never 6379), with AOF on so restart
 * tests keep data. `restart()` stops it and starts it again on the same port and directory.
 */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  server: RedisServer;
  /** A plain connection for assertions; closed by `stop()`. */
  readonly client: Redis;
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestRedis(options: { appendonly?: boolean; args?: string[] } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'jc-redis-'));
  let server = await startRedisServer({ dir, appendonly: options.appendonly ?? true, args: options.args });
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  client.on('error', () => {}); // expected while a test restarts the server
  const handle: TestRedis = {
    url: server.url,
    port: server.port,
    server,
    client,
    async restart(downMs = 0) {
      await server.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      server = await startRedisServer({ dir, port: handle.port, appendonly: options.appendonly ?? true, args: options.args });
      handle.server = server;
    },
    async stop() {
      client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

let counter = 0;
/** A queue prefix unique to one test, so tests sharing a Redis never see each other's keys. */
export function uniquePrefix(): string {
  counter++;
  return `t${process.pid}x${counter}x${Math.random().toString(36).slice(2, 6)}`;
}
