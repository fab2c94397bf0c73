import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';
import { basicAuth, missingSeconds } from './support/scale.js';

/*
 * The compiled output the Docker image runs (`npm run build` → dist/, started with plain `node`,
 * no tsx): it must exist, import only production dependencies (the image installs with
 * `npm ci --omit=dev`), and actually run: worker and producer keep the heartbeat going, the
 * server answers, `npm run start:prod` (dist/src/supervisor.js) starts all three.
 */

const ENTRIES = ['workers/main.js', 'producers/main.js', 'src/server/main.js', 'src/supervisor.js'];
const SOURCE_DIRS = ['src', 'workers', 'producers'];

let redis: TestRedis;
const children: ChildProcess[] = [];

/** Every .ts file under the build's source folders whose .js in dist/ is missing or older. */
function staleOutputs(): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  return stale;
}

before(async () => {
  // CI runs `npm run build` before the tests; build here only when dist/ is missing or stale.
  const stale = staleOutputs();
  if (stale.length > 0) {
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      timeout: 120_000,
    });
  }
  redis = await startTestRedis({ appendonly: false });
});
after(async () => {
  await Promise.all(children.map(stopChild));
  await redis?.stop();
});

/** A compiled entry run with plain `node` (no loader), its output collected line by line. */
function runCompiled(entry: string, env: Record<string, string>): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, [join(ROOT, 'dist', entry)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: entry === 'src/supervisor.js', // its own group, so its children can be stopped with it
  });
  children.push(child);
  const lines: string[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return { child, lines };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(killer);
}

/** Heartbeat tick times from JSON log lines of hello-world runs. */
function heartbeatTicks(lines: readonly string[]): number[] {
  const ticks: number[] = [];
  for (const text of lines) {
    const m = /"job":"repeat:heartbeat:(\d+)"/.exec(text);
    if (m && text.includes('Hello World!')) ticks.push(Number(m[1]));
  }
  return ticks.sort((a, b) => a - b);
}

describe('compiled build (what the Docker image runs)', () => {
  it('npm run build emits every entry the image and npm run start:prod start', () => {
    for (const entry of ENTRIES) assert.ok(existsSync(join(ROOT, 'dist', entry)), `dist/${entry} exists`);
    assert.deepEqual(staleOutputs(), [], 'dist/ is up to date with the sources');
  });

  it('compiled code imports only Node built-ins and production dependencies (npm ci --omit=dev suffices)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const allowed = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.js')) {
          const code = readFileSync(path, 'utf8');
          const specs = [
            ...code.matchAll(/^\s*(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm),
            ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
            ...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
          ].map((m) => m[1]!);
          for (const spec of specs) {
            if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            if (!allowed.has(name)) problems.push(`${relative(ROOT, path)} imports "${spec}", not a production dependency`);
          }
        }
      }
    };
    for (const d of SOURCE_DIRS) walk(join(ROOT, 'dist', d));
    assert.deepEqual(problems, []);
  });

  it('node dist/workers/main.js and node dist/producers/main.js run the heartbeat; the compiled server answers', { timeout: 60_000 }, async () => {
    const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), NODE_ENV: 'production' };
    const worker = runCompiled('workers/main.js', env);
    const producer = runCompiled('producers/main.js', env);
    const server = runCompiled('src/server/main.js', {
      ...env,
      HOST: '127.0.0.1',
      PORT: '0',
      BOARD_USER: 'admin',
      BOARD_PASSWORD: 'build-test-password',
    });
    const evidence = () => [...worker.lines, ...producer.lines, ...server.lines].slice(-40).join('\n');
    await waitFor(() => heartbeatTicks(worker.lines).length >= 3, `three heartbeats from the compiled worker\n${evidence()}`, 40_000, 100);
    const ticks = heartbeatTicks(worker.lines);
    assert.deepEqual(missingSeconds(ticks), []);
    assert.equal(new Set(ticks).size, ticks.length, 'each tick once');
    assert.ok(producer.lines.some((l) => l.includes('Schedules synced')));

    const listening = await waitFor(() => server.lines.find((l) => l.includes('Server listening')), 'the compiled server listening', 20_000);
    const port = (JSON.parse(listening) as { port: number }).port;
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/board`, { headers: basicAuth('admin', 'build-test-password') })).status, 200);
  });

  it('npm run start:prod (dist/src/supervisor.js) starts the compiled producer, worker and server', { timeout: 60_000 }, async () => {
    const sup = runCompiled('src/supervisor.js', {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix(),
      NODE_ENV: 'production',
      LOG_FORMAT: 'pretty',
      HOST: '127.0.0.1',
      PORT: '0',
      BOARD_USER: 'admin',
      BOARD_PASSWORD: 'build-test-password',
    });
    await waitFor(
      () => sup.lines.some((l) => l.startsWith('[worker]') && l.includes('Hello World!')),
      `a heartbeat through the compiled supervisor\n${sup.lines.slice(-30).join('\n')}`,
      40_000,
      100,
    );
    for (const [name, text] of [['producer', 'Schedules synced'], ['server', 'Server listening']]) {
      await waitFor(() => sup.lines.some((l) => l.startsWith(`[${name}]`) && l.includes(text!)), `[${name}] ${text}`, 30_000, 100);
    }
    await stopChild(sup.child);
    assert.ok(sup.lines.some((l) => l.includes('[supervisor] Stopped')), 'stopped its children cleanly');
  });
});
