import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { waitForOutput } from '../child-output.js';

/** A `redis-server` child process started by this process (local runs, tests, benchmarks). */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly process: ChildProcess;
  /** Stops it with SHUTDOWN semantics (SIGTERM: flushes AOF) and waits for exit. Idempotent. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** @defaultValue a free port */
  port?: number;
  /** Working directory for AOF/RDB files. */
  dir: string;
  /** @defaultValue true */
  appendonly?: boolean;
  /**
   * Redis's timer rate. A delayed job or a schedule's tick becomes runnable when a blocked worker's
   * wait times out, which Redis only notices on its timer: at the default 10 Hz that is up to
   * 100 ms late, at 100 Hz up to 10 ms. The cost is idle CPU in Redis (an idle redis-server measured
   * 0.8 % of a core at 100 Hz against 0.2 % at 10 Hz), nothing per job. @defaultValue {@link SHIPPED_HZ}
   */
  hz?: number;
  /** Extra `--flag value` arguments. */
  args?: readonly string[];
  /** @defaultValue 'redis-server' from PATH */
  binary?: string;
  /** Own process group, so a terminal's Ctrl-C does not stop it before its clients. @defaultValue false */
  detached?: boolean;
}

/** The `hz` the center ships (`npm start`'s own Redis, docker-compose): 20 ms schedule precision. */
export const SHIPPED_HZ = 100;

export function hasRedisServer(binary = 'redis-server'): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `redis-server` bound to 127.0.0.1 and resolves once it accepts connections. */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  mkdirSync(options.dir, { recursive: true });
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', options.dir,
    '--save', '',
    '--appendonly', options.appendonly === false ? 'no' : 'yes',
    '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction',
    '--hz', String(options.hz ?? SHIPPED_HZ),
    '--daemonize', 'no',
    ...(options.args ?? []),
  ];
  const child = spawn(options.binary ?? 'redis-server', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  await waitForOutput(child, /Ready to accept connections/, 'redis-server', 10_000);
  // Keep draining output so a chatty server never blocks on a full pipe.
  child.stdout.resume();
  child.stderr.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir: options.dir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
