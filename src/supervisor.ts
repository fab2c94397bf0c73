import 'dotenv/config';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { importCatalog } from './jobs/catalog.js';
import { STARTED_MESSAGE } from './process-started.js';
import { hasRedisServer, startRedisServer, type RedisServer } from './redis/redis-server.js';

/*
 * `npm start`: runs the whole center locally as separate child processes (producer, worker,
 * server) with prefixed logs, and a private redis-server when no Redis is configured or running.
 * Children run in their own process groups so that Ctrl-C reaches only this supervisor, which then
 * stops them in order (workers finish their jobs while Redis is still up) and Redis last.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fromSource = import.meta.url.endsWith('.ts');
const ext = fromSource ? 'ts' : 'js';
const base = fromSource ? root : resolve(root, '..');
const out = (line: string) => process.stdout.write(`${line}\n`);

const CHILDREN = [
  { name: 'producer', entry: `producers/main.${ext}` },
  { name: 'worker', entry: `workers/main.${ext}` },
  { name: 'server', entry: `server/main.${ext}` },
] as const;

function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => finish(d.toString().startsWith('+PONG') || d.toString().startsWith('-NOAUTH')));
    // Closed without an answer (something that is not Redis hung up): nothing else would settle
    // this, and with nothing left to do the process exited 0 without a word.
    socket.once('close', () => finish(false));
  });
}

/**
 * The restart backoff of every child (and of the private redis-server): 0.5 s doubling up to 30 s,
 * back to 0.5 s for one that had run a minute before it exited.
 */
const restartBackoff = {
  waitMs: (restarts: number): number => Math.min(30_000, 500 * 2 ** restarts),
  next: (restarts: number, startedAt: number): number => (Date.now() - startedAt > 60_000 ? 0 : restarts + 1),
};

/** How the private redis-server is started, the first time and on each restart. */
const privateRedis = (port: number, dir: string) => ({ port, dir, appendonly: true, detached: true });

async function chooseRedis(config: Config): Promise<{ url?: string; server?: RedisServer }> {
  if (config.localRedis.urlGiven) return {};
  const port = config.localRedis.port;
  if (await answers(port)) return { url: `redis://127.0.0.1:${port}` };
  if (!hasRedisServer()) {
    process.stderr.write(
      `No Redis: nothing answers on 127.0.0.1:${port}, REDIS_URL is not set, and there is no redis-server on PATH.\n` +
        'Do one of:\n' +
        '  - install Redis: sudo apt-get install redis-server   (macOS: brew install redis)\n' +
        '  - run one in Docker: docker compose up -d redis\n' +
        '  - point at an existing one: REDIS_URL=redis://host:6379 npm start\n',
    );
    process.exit(1);
  }
  // The repository's, compiled or not: `npm run start:prod` kept its data under dist/ (gone with a rebuild).
  const dir = resolve(base, config.localRedis.dir);
  let server: RedisServer;
  try {
    server = await startRedisServer(privateRedis(port, dir));
  } catch (err) {
    // Typically the port is taken by something that is not Redis (it did not answer PING).
    const reason = /Address already in use/.test((err as Error).message) ? `port ${port} is in use by something that is not Redis` : (err as Error).message;
    process.stderr.write(
      `Could not start the private redis-server on 127.0.0.1:${port} (LOCAL_REDIS_PORT): ${reason}.\n` +
        'Set LOCAL_REDIS_PORT to a free port, or REDIS_URL to use a Redis of your own.\n',
    );
    process.exit(1);
  }
  out(`[supervisor] Started a private redis-server on 127.0.0.1:${port} (AOF in ${dir}); it stops with this process`);
  return { url: server.url, server };
}

function pipeWithPrefix(child: ChildProcess, name: string): void {
  const tag = `[${name}]`.padEnd(11);
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => out(`${tag}${line}`));
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    // The app's job catalog (`npm start` names it): queue names in WORKER_QUEUES and QUEUE_SHARDS are
    // checked here, before anything starts, instead of in a child restarted in a loop.
    const catalog = process.env.JOB_CATALOG ? await importCatalog(process.env.JOB_CATALOG) : undefined;
    config = loadConfig(process.env, catalog ? { contracts: catalog } : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every variable and its allowed values.\n`);
      process.exit(1);
    }
    throw err;
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Empty counts as unset, as in the config (`LOG_FORMAT=` in a .env).
  if (!env.LOG_FORMAT?.trim()) env.LOG_FORMAT = 'pretty';
  const redis = await chooseRedis(config);
  if (redis.url) env.REDIS_URL = redis.url;

  const notes: string[] = [];
  if (!config.server.board.admin && config.env !== 'production') {
    env.BOARD_USER = 'admin';
    env.BOARD_PASSWORD = randomBytes(12).toString('base64url');
    notes.push(`Board login (generated for this run; set BOARD_USER/BOARD_PASSWORD to choose): admin / ${env.BOARD_PASSWORD}`);
  }
  if (!config.server.apiToken && config.env !== 'production') {
    env.API_TOKEN = randomBytes(24).toString('base64url');
    notes.push(`API token (generated for this run; set API_TOKEN to choose): ${env.API_TOKEN}`);
  }
  const url = `http://${config.server.host === '0.0.0.0' ? 'localhost' : config.server.host}:${config.server.port}`;
  out(`[supervisor] Board:   ${url}${config.server.board.basePath}`);
  out(`[supervisor] API:     ${url}/api  (docs: ${url}/api/openapi.json)`);
  for (const n of notes) out(`[supervisor] ${n}`);

  const running = new Map<string, ChildProcess>();
  let stopping = false;

  // The private redis-server is a child like the others: one that dies (killed, out of memory) is
  // restarted on its port and AOF directory, with the same backoff, and the children reconnect by
  // themselves. Before, nothing noticed: every process reconnected forever to a Redis that was gone.
  let redisRestart: Promise<void> | undefined;
  const keepRedis = (server: RedisServer, restarts = 0): void => {
    const startedAt = Date.now();
    server.process.once('exit', (code, signal) => {
      if (stopping) return;
      const wait = restartBackoff.waitMs(restarts);
      out(`[supervisor] Private redis-server exited (${signal ?? code}); restarting it in ${wait} ms`);
      setTimeout(() => {
        if (stopping) return;
        redisRestart = startRedisServer(privateRedis(server.port, server.dir)).then(
          (next) => {
            redis.server = next;
            out(`[supervisor] Restarted the private redis-server on 127.0.0.1:${next.port}`);
            keepRedis(next, restartBackoff.next(restarts, startedAt));
          },
          (err: unknown) => {
            out(`[supervisor] Could not restart the private redis-server on 127.0.0.1:${server.port} (LOCAL_REDIS_PORT): ${(err as Error).message}; stopping`);
            void stop(1);
          },
        );
      }, wait);
    });
  };
  if (redis.server) keepRedis(redis.server);

  const startChild = (name: string, entry: string, restarts = 0): void => {
    const args = fromSource ? ['--import', 'tsx', join(base, entry)] : [join(base, 'dist', entry)];
    const child = spawn(process.execPath, args, {
      cwd: base,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    running.set(name, child);
    pipeWithPrefix(child, name);
    const startedAt = Date.now();
    let started = false;
    child.on('message', (m) => {
      if (m === STARTED_MESSAGE) started = true;
    });
    child.once('exit', (code, signal) => {
      running.delete(name);
      if (stopping) return;
      // A first start that failed (a config error, its port taken: exit 1 before the child said it
      // started) will not heal by restarting: stop everything. Not judged by how long it ran: see
      // process-started.ts.
      if (code === 1 && !started && restarts === 0) {
        out(`[supervisor] ${name} could not start (exit 1); stopping`);
        void stop(1);
        return;
      }
      const wait = restartBackoff.waitMs(restarts);
      out(`[supervisor] ${name} exited (${signal ?? code}); restarting in ${wait} ms`);
      setTimeout(() => !stopping && startChild(name, entry, restartBackoff.next(restarts, startedAt)), wait);
    });
  };

  const stop = async (exitCode: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    out('[supervisor] Stopping…');
    const grace = config.worker.shutdownTimeoutMs + 10_000;
    await Promise.all(
      [...running.values()].map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const killer = setTimeout(() => child.kill('SIGKILL'), grace);
            child.once('exit', () => {
              clearTimeout(killer);
              done();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    // A restart under way ends first, so that the server it starts is the one stopped here.
    await redisRestart;
    if (redis.server) {
      await redis.server.stop();
      out('[supervisor] Private redis-server stopped');
    }
    out('[supervisor] Stopped');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGHUP', () => void stop(0));

  for (const c of CHILDREN) startChild(c.name, c.entry);
}

void main();
