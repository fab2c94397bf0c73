import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { dropKeys, type Bench } from './context.js';
import type { HttpResult, HttpRoute } from './report.js';
import { waitForOutput } from '../src/child-output.js';

/*
 * HTTP enqueue under load: a real server process (compiled when the bench is), driven by
 * autocannon over real sockets: `POST /api/jobs` (one job per request) and `POST /api/jobs/bulk`
 * (100 jobs per request), each for a few seconds. The client rate measured in the same run is the
 * reference: the gap is what HTTP (parsing, auth, validation, audit, express) costs per job.
 */

const BULK = 100;

async function startServer(b: Bench, root: string, compiled: boolean, prefix: string, token: string): Promise<{ base: string; stop(): Promise<void> }> {
  const entry = compiled ? join(root, 'dist', 'server', 'main.js') : join(root, 'server', 'main.ts');
  const child = spawn(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), entry], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: b.url,
      QUEUE_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: '0',
      API_TOKEN: token,
      BOARD_USER: 'bench',
      BOARD_PASSWORD: randomBytes(18).toString('base64url'),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = Number((await waitForOutput(child, /"port":(\d+)[^\n]*Server listening/, 'server', 60_000))[1]);
  child.stdout.resume();
  child.stderr.resume();
  // Keep draining: audit lines are logged per request.
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    base: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function load(url: string, token: string, body: string, connections: number, seconds: number, jobsPerRequest: number, route: string): Promise<HttpRoute> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
  return {
    route,
    requestsPerSec: result.requests.average,
    jobsPerSec: (result.requests.average * jobsPerRequest) as number,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export async function benchHttp(b: Bench, root: string, compiled: boolean, clientRate: number): Promise<HttpResult> {
  const prefix = 'http-b';
  const token = randomBytes(24).toString('base64url');
  const server = await startServer(b, root, compiled, prefix, token);
  const seconds = b.sizes.rounds > 1 ? 5 : 1;
  const connections = b.sizes.rounds > 1 ? 20 : 5;
  try {
    const one = JSON.stringify({ name: 'sleep', data: { ms: 0 } });
    const many = JSON.stringify({ jobs: Array.from({ length: BULK }, () => ({ name: 'sleep', data: { ms: 0 } })) });
    // Warm-up (JIT, script loading), not counted.
    await load(`${server.base}/api/jobs`, token, one, 2, 1, 1, 'warm-up');
    const single = await load(`${server.base}/api/jobs`, token, one, connections, seconds, 1, 'POST /api/jobs');
    b.log(`http: POST /api/jobs ${Math.round(single.requestsPerSec)} req/s`);
    const bulk = await load(`${server.base}/api/jobs/bulk`, token, many, connections, seconds, BULK, `POST /api/jobs/bulk (${BULK} jobs each)`);
    b.log(`http: POST /api/jobs/bulk ${Math.round(bulk.requestsPerSec)} req/s`);
    return { connections, seconds, single, bulk, clientRate };
  } finally {
    await server.stop();
    await dropKeys(b.admin, `${prefix}:*`);
  }
}
