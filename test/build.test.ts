import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BUILT_DIRS, ensureBuilt, staleSources } from './support/build.js';
import { freePort } from '../src/redis/redis-server.js';
import { ROOT, waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';
import { basicAuth, missingSeconds } from './support/scale.js';

/*
 * The compiled output the Docker image runs (`npm run build` → dist/, started with plain `node`,
 * no tsx): it must exist, import only production dependencies (the image installs with
 * `npm ci --omit=dev`), and actually run: worker and producer keep the heartbeat going, the
 * server answers, `npm run start:prod` (dist/src/supervisor.js) starts all three.
 */

const ENTRIES = ['workers/main.js', 'producers/main.js', 'server/main.js', 'src/supervisor.js'];

let redis: TestRedis;
const children: ChildProcess[] = [];

before(async () => {
  // npm test builds first; build here too when this file runs alone and dist/ is missing or stale.
  await ensureBuilt();
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

/** The HEALTHCHECK command of the Dockerfile (exec form), e.g. ['node', '-e', '...']. */
function dockerHealthcheck(): string[] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const m = /^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(text);
  assert.ok(m, 'the Dockerfile has an exec-form HEALTHCHECK');
  return JSON.parse(m[1]!) as string[];
}

/** `docker-compose config` (Debian's docker-compose, as CI runs it) with only `env` as variables. */
async function composeConfig(env: Record<string, string>): Promise<string> {
  // An empty env file, so a developer's own .env does not leak into the check.
  const dir = mkdtempSync(join(tmpdir(), 'jc-compose-'));
  writeFileSync(join(dir, 'empty.env'), '');
  try {
    const { stdout } = await promisify(execFile)(
      'docker-compose',
      ['--env-file', join(dir, 'empty.env'), '-f', join(ROOT, 'docker-compose.yml'), 'config'],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 60_000 },
    );
    return stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Docker packaging', () => {
  it('Dockerfile: multi-stage, production dependencies only, non-root, compiled JS, a health check', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.equal(text.match(/^FROM /gm)?.length, 2, 'a build stage and a runtime stage');
    assert.match(text, /RUN npm ci --no-audit --no-fund\nCOPY[\s\S]*RUN npm run build/);
    assert.match(text, /RUN npm ci --omit=dev/);
    assert.match(text, /COPY --from=build \/app\/dist \.\/dist/);
    assert.match(text, /^USER node$/m);
    assert.match(text, /^CMD \["node", "dist\/server\/main\.js"\]$/m);
    const instructions = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
    assert.doesNotMatch(instructions, /tsx/, 'no TypeScript loader at run time');
    assert.equal(dockerHealthcheck()[0], 'node');
  });

  it('Node.js: the image runs a supported line, @types/node is the lowest one, .ci/run tests every line', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    const lowest = Number(/^>=(\d+)$/.exec(pkg.engines.node)?.[1]);
    assert.ok(lowest >= 22, `engines.node is ${pkg.engines.node}`);
    assert.equal(Number(/^\^(\d+)\./.exec(pkg.devDependencies['@types/node']!)?.[1]), lowest, '@types/node matches the lowest line');
    const image = Number(/^ARG NODE_VERSION=(\d+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1]);
    assert.ok(image >= lowest && image % 2 === 0, `the image's line ${image} is a supported LTS line`);
    const lines = /CI_NODE_LINES:-([\d ]+)\}/.exec(readFileSync(join(ROOT, '.ci/run'), 'utf8'))?.[1]?.split(' ').map(Number);
    assert.ok(lines?.includes(lowest) && lines.includes(image), `.ci/run tests lines ${lines?.join(', ')}`);
  });

  it('docker-compose.yml: valid; Redis with AOF, noeviction, a volume and a health check; credentials only from the environment', async () => {
    const bare = await composeConfig({});
    for (const entry of ['dist/producers/main.js', 'dist/workers/main.js', 'dist/server/main.js']) {
      assert.ok(bare.includes(`- ${entry}`), `a service runs ${entry}`);
      assert.ok(existsSync(join(ROOT, entry)), `${entry} is what npm run build emits`);
    }
    assert.match(bare, /- --appendonly\n\s+- 'yes'|- --appendonly\n\s+- "yes"|- --appendonly\n\s+- yes/);
    assert.match(bare, /- --maxmemory-policy\n\s+- noeviction/);
    assert.match(bare, /redis-data:\/data/);
    assert.match(bare, /test:\n\s+- CMD\n\s+- redis-cli\n\s+- ping/, 'redis has a health check');
    assert.match(bare, /condition: service_healthy/);
    assert.match(bare, /replicas: 3/);
    assert.match(bare, /HOST: 0\.0\.0\.0/);
    // No default secret: unset in the environment, empty in the container (the server then refuses to start).
    for (const secret of ['BOARD_PASSWORD', 'API_TOKEN']) assert.match(bare, new RegExp(`${secret}: ''`));
    const set = await composeConfig({ BOARD_PASSWORD: 'from-the-env-123', API_TOKEN: 'token-from-the-env-123', WORKER_REPLICAS: '8' });
    assert.match(set, /BOARD_PASSWORD: from-the-env-123/);
    assert.match(set, /API_TOKEN: token-from-the-env-123/);
    assert.match(set, /replicas: 8/);
  });

  it('docker-compose.yml passes every variable of .env.example to the containers (they were dropped: no alerts, no shards under Compose)', async () => {
    // npm start's own, the CLI's and test-only variables have no place in a container; the image sets NODE_ENV, LOG_FORMAT, HOST and PORT.
    const notForContainers = new Set(['LOCAL_REDIS_PORT', 'LOCAL_REDIS_DIR', 'TEST_CRASH_AFTER_COMPLETE', 'JOB_CATALOG', 'NODE_ENV', 'LOG_FORMAT', 'HOST', 'PORT']);
    const documented = [...readFileSync(join(ROOT, '.env.example'), 'utf8').matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!).filter((v) => !notForContainers.has(v));
    const env = Object.fromEntries(documented.map((v) => [v, `value-of-${v}`]));
    const config = await composeConfig(env);
    const missing = documented.filter((v) => !config.includes(`${v}: value-of-${v}`));
    assert.deepEqual(missing, [], 'every documented variable reaches a service');
  });
});

describe('compiled build (what the Docker image runs)', () => {
  it('npm run start:prod without a build says to run npm run build (exit 1), not a MODULE_NOT_FOUND stack', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'jc-nobuild-'));
    try {
      writeFileSync(join(bare, 'package.json'), readFileSync(join(ROOT, 'package.json')));
      const result = await promisify(execFile)('npm', ['run', '--silent', 'start:prod'], { cwd: bare, timeout: 30_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /dist\/src\/supervisor\.js is missing: run npm run build first/);
      assert.doesNotMatch(result.stderr, /MODULE_NOT_FOUND/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it('npm run build emits every entry the image and npm run start:prod start', () => {
    for (const entry of ENTRIES) assert.ok(existsSync(join(ROOT, 'dist', entry)), `dist/${entry} exists`);
    assert.deepEqual(staleSources(), [], 'dist/ is up to date with the sources');
  });

  it('compiled code imports only Node built-ins and production dependencies (npm ci --omit=dev suffices)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies?: Record<string, string> };
    // Peers (zod: a consumer's schemas and the package's types must share one copy) are installed
    // by npm ci --omit=dev too (npm >= 7 installs peers unless told --omit=peer).
    const allowed = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.js')) {
          const code = readFileSync(path, 'utf8');
          const specs = [
            // A specifier has no whitespace: that keeps a "from '" inside a string literal (an
            // error message, say) from being read as an import spanning the following lines.
            ...code.matchAll(/^\s*(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"\s]+)['"]/gm),
            ...code.matchAll(/^\s*import\s*['"]([^'"\s]+)['"]/gm),
            ...code.matchAll(/\bimport\(\s*['"]([^'"\s]+)['"]\s*\)/g),
          ].map((m) => m[1]!);
          for (const spec of specs) {
            if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            if (!allowed.has(name)) problems.push(`${relative(ROOT, path)} imports "${spec}", not a production dependency`);
          }
        }
      }
    };
    for (const d of BUILT_DIRS) walk(join(ROOT, 'dist', d));
    assert.deepEqual(problems, []);
  });

  it('node dist/workers/main.js and node dist/producers/main.js run the heartbeat; the compiled server answers', { timeout: 60_000 }, async () => {
    const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), NODE_ENV: 'production' };
    const worker = runCompiled('workers/main.js', env);
    const producer = runCompiled('producers/main.js', env);
    const server = runCompiled('server/main.js', {
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

    // The Dockerfile's HEALTHCHECK command, run as Docker would: healthy here, unhealthy without a server.
    const check = dockerHealthcheck();
    const probe = (p: number) =>
      new Promise<number | null>((resolve) => {
        const c = spawn(check[0]!, check.slice(1), { env: { PATH: process.env.PATH, PORT: String(p) }, stdio: 'ignore' });
        c.once('exit', (code) => resolve(code));
      });
    assert.equal(await probe(port), 0, 'HEALTHCHECK passes against the running server');
    assert.equal(await probe(redis.port), 1, 'HEALTHCHECK fails where no server answers /healthz');
  });

  it('npm run start:prod (dist/src/supervisor.js) starts the compiled producer, worker and server', { timeout: 60_000 }, async () => {
    const sup = runCompiled('src/supervisor.js', {
      JOB_CATALOG: 'dist/contracts/index.js', // as npm run start:prod names it
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

  it('npm run start:prod keeps its private Redis data where npm start does, not under dist/ (gone with a rebuild)', { timeout: 60_000 }, async () => {
    const dirName = `.data/build-test-${uniquePrefix()}`;
    const sup = runCompiled('src/supervisor.js', {
      JOB_CATALOG: 'dist/contracts/index.js',
      LOCAL_REDIS_PORT: String(await freePort()),
      LOCAL_REDIS_DIR: dirName,
      QUEUE_PREFIX: uniquePrefix(),
      HOST: '127.0.0.1',
      PORT: '0',
      BOARD_USER: 'admin',
      BOARD_PASSWORD: 'build-test-password',
    });
    try {
      const started = await waitFor(() => sup.lines.find((l) => l.includes('Started a private redis-server')), 'the private Redis', 30_000, 100);
      assert.ok(started.includes(`AOF in ${join(ROOT, dirName)})`), started);
      await waitFor(() => sup.lines.some((l) => l.startsWith('[server]') && l.includes('Server listening')), 'the server', 30_000, 100);
    } finally {
      await stopChild(sup.child);
      rmSync(join(ROOT, dirName), { recursive: true, force: true });
    }
  });
});
