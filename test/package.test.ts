import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CenterProcess, ROOT } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';
import { serverPort } from './support/scale.js';

/*
 * The library as a package (issue 13, item 7): `npm pack` makes a tarball; examples/other-service,
 * a service with its own job contracts, installs it and runs its compiled worker, server, typed
 * client and the `job-center` command against a real Redis. Nothing of this repository's demo
 * catalog is involved.
 */

const dir = mkdtempSync(join(tmpdir(), 'jc-package-'));
const service = join(dir, 'other-service');
const version = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const processes: CenterProcess[] = [];
let redis: TestRedis;
let env: Record<string, string>;

function run(file: string, args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      file,
      args,
      // npm gets the whole environment (proxy, cache and registry settings); the service's processes only what they are given.
      { cwd: opts.cwd, env: file === 'npm' ? { ...process.env, ...opts.env } : { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string) {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code})\n${r.stdout}\n${r.stderr}`);
  return r;
}

before(async () => {
  redis = await startTestRedis();
  env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), LOG_LEVEL: 'info', LOG_FORMAT: 'json' };
});
after(async () => {
  await Promise.all(processes.map((p) => p.stop(5000)));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the library as a package', () => {
  it('npm pack → another service installs the tarball, builds against its types, runs a worker, a server, a typed client and the job-center command', { timeout: 300_000 }, async (t) => {
    // prepack builds dist/ first, so the tarball holds what the sources say now.
    ok(await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: ROOT }), 'npm pack');
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.equal(tarball, `job-center-${version}.tgz`);
    const listing = ok(await run('tar', ['-tzf', join(dir, tarball!)], { cwd: dir }), 'tar').stdout.split('\n');
    assert.ok(listing.includes('package/dist/src/index.d.ts'), 'types are packed');
    assert.ok(listing.includes('package/dist/src/cli/main.js'), 'the bin is packed');
    assert.ok(!listing.some((f) => f.startsWith('package/contracts/') || f.startsWith('package/dist/contracts/')), 'the demo catalog is not part of the library');
    assert.ok(!listing.some((f) => f.includes('/test/') || f.endsWith('.env')), 'no tests or .env in the package');

    cpSync(resolve(ROOT, 'examples/other-service'), service, { recursive: true });
    // From npm's cache where it can (CI has just run npm ci): the same dependencies as this repository.
    ok(await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball!)], { cwd: service, timeoutMs: 240_000 }), 'npm install');
    // zod is a peer dependency: the service's schemas and the package's types are one copy of zod.
    // As a plain dependency a service on another zod 4 (4.1.12) got a second, nested copy, and
    // defineJob({ schema }) with the service's own schema failed to compile (TS2740: missing
    // properties from type 'ZodType'); a peer range the service cannot meet is an install error instead.
    const packed = JSON.parse(readFileSync(join(service, 'node_modules/job-center/package.json'), 'utf8')) as { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
    assert.ok(packed.peerDependencies?.zod, 'zod is a peer dependency of the package');
    assert.equal(packed.dependencies?.zod, undefined, 'zod is not a dependency of its own');
    assert.ok(!existsSync(join(service, 'node_modules/job-center/node_modules/zod')), 'one zod: the service\'s');
    // The service's own build typechecks its enqueue calls against its contracts (src/enqueue.ts
    // holds @ts-expect-error lines: a wrong payload, a job of the center's demo catalog, and a
    // wrong payload in enqueueMany's jobs).
    ok(await run(process.execPath, [join(service, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: service }), 'tsc');

    const bin = join(service, 'node_modules/.bin/job-center');
    const cliEnv = { ...env, JOB_CATALOG: 'dist/jobs.js' };
    const [v, jobs] = await Promise.all([
      run(bin, ['--version'], { cwd: service, env }),
      run(bin, ['jobs', '--json'], { cwd: service, env: cliEnv }),
    ]);
    assert.equal(ok(v, 'job-center --version').stdout.trim(), `job-center ${version}`);
    assert.deepEqual((JSON.parse(ok(jobs, 'job-center jobs').stdout) as { name: string; queue: string }[]).map((j) => `${j.queue}/${j.name}`), ['billing/send-invoice']);

    const worker = new CenterProcess('other-service worker', join(service, 'dist/worker.js'), env, [], { cwd: service, tsx: false });
    processes.push(worker);
    assert.deepEqual((await worker.waitForMessage('Worker started', 30_000)).queues, ['billing']);

    // The typed client, compiled: enqueues, waits for the worker, prints the job.
    const enqueued = ok(await run(process.execPath, ['dist/enqueue.js', 'customer-7'], { cwd: service, env }), 'enqueue');
    const job = JSON.parse(enqueued.stdout) as { state: string; queue: string; name: string; returnValue: unknown };
    assert.equal(job.state, 'completed', enqueued.stdout);
    assert.equal(job.queue, 'billing');
    assert.deepEqual(job.returnValue, { sent: true, customerId: 'customer-7', total: '123.45' });

    // The command with the service's catalog: enqueue validates against it, job list finds the runs.
    const bad = await run(bin, ['enqueue', 'send-invoice', '--data', '{"customerId":"x","amountCents":-1}'], { cwd: service, env: cliEnv });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /data\.amountCents/);
    const added = JSON.parse(ok(await run(bin, ['enqueue', 'send-invoice', '--data', '{"customerId":"cli","amountCents":100}', '--json'], { cwd: service, env: cliEnv }), 'cli enqueue').stdout) as { id: string };
    const listed = JSON.parse(ok(await run(bin, ['job', 'list', '--queue', 'billing', '--json'], { cwd: service, env: cliEnv }), 'job list').stdout) as { jobs: { id: string }[] };
    assert.ok(listed.jobs.some((j) => j.id === added.id), 'job list shows the job the command added');

    // The server from the package, over the service's catalog.
    const token = 'tok-' + 'k3Jx9QvR2mTz7LpW4nYb8sHd';
    const server = new CenterProcess('other-service server', join(service, 'dist/server.js'), {
      ...env,
      HOST: '127.0.0.1',
      PORT: '0',
      BOARD_USER: 'ops',
      BOARD_PASSWORD: 'Zr7-qLm2-Vx9w-Tn4k',
      API_TOKEN: token,
    }, [], { cwd: service, tsx: false });
    processes.push(server);
    const port = await serverPort(server, 30_000);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const api = await fetch(`http://127.0.0.1:${port}/api/jobs?queue=billing`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(api.status, 200);
    const page = (await api.json()) as { jobs: { name: string }[] };
    assert.ok(page.jobs.length >= 2 && page.jobs.every((j) => j.name === 'send-invoice'), JSON.stringify(page));
    const unknown = await fetch(`http://127.0.0.1:${port}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'hello-world', data: {} }),
    });
    assert.equal(unknown.status, 400, 'the demo jobs are not this service\'s jobs');
    t.diagnostic(`tarball ${tarball}: ${listing.filter(Boolean).length} files`);
  });
});
