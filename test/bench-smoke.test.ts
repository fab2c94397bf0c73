import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { SMOKE } from '../bench/context.js';
import type { Pair } from '../bench/latency.js';
import type { Results } from '../bench/report.js';
import type { Summary } from '../bench/stats.js';
import { ROOT } from './support/processes.js';

/*
 * The benchmark is not part of `npm test`, but this smoke run of it is, so it cannot rot: the real
 * `bench/run.ts` with tiny sizes (`--smoke`), its own private redis-server on a free port and its
 * own worker processes. Timing is not asserted (the machine is shared); that every section is
 * there, with the exact number of samples asked for and finite numbers, is.
 */

const dir = mkdtempSync(join(tmpdir(), 'jc-bench-smoke-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'bench/run.ts'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a timeout kills the bench with its worker children and its Redis
      // (a SIGKILL of the bench alone left them running).
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`bench did not finish within ${timeoutMs} ms:\n${stderr.slice(-3000)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function assertCompared(name: string, c: { center: number; bullmq: number; ratio: number } | undefined): void {
  assert.ok(c, `${name} missing`);
  assert.ok(isNum(c.center) && c.center > 0, `${name}.center = ${c.center}`);
  assert.ok(isNum(c.bullmq) && c.bullmq > 0, `${name}.bullmq = ${c.bullmq}`);
  assert.ok(isNum(c.ratio) && c.ratio > 0, `${name}.ratio = ${c.ratio}`);
}

/** `n`: the exact sample count per side, or undefined where it depends on time (open-loop load). */
function assertPair(name: string, p: Pair | undefined, n: number | undefined): void {
  assert.ok(p, `${name} missing`);
  for (const side of ['center', 'bullmq'] as const) {
    const s: Summary = p[side];
    if (n === undefined) assert.ok(s.n > 0, `${name}.${side}: no samples`);
    else assert.equal(s.n, n, `${name}.${side}: expected ${n} samples, got ${s.n}`);
    for (const k of ['p50', 'p99', 'max'] as const) assert.ok(isNum(s[k]), `${name}.${side}.${k} = ${s[k]}`);
  }
  assert.ok(isNum(p.p99Ratio), `${name}.p99Ratio = ${p.p99Ratio}`);
}

describe('npm run bench (smoke sizes)', () => {
  it('measures every section for both sides and writes them as JSON', { timeout: 140_000 }, async () => {
    const out = join(dir, 'results.json');
    // tsx workers: compiling dist/ (the full bench's default) would double this test's time.
    const run = await runBench(['--smoke', '--quiet', '--worker', 'tsx', '--out', out], 130_000);
    assert.equal(run.code, 0, `bench exited ${run.code}:\n${run.stderr.slice(-3000)}`);
    assert.match(run.stdout, /\| measurement \| center \| bare BullMQ \| ratio \|/);

    const r = JSON.parse(readFileSync(out, 'utf8')) as Results;
    const s = SMOKE;
    assert.equal(r.meta.rounds, s.rounds);
    assert.equal(r.meta.smoke, true);

    for (const k of ['sequential', 'concurrent', 'concurrentKeyed', 'bulk', 'bulkKeyed'] as const) assertCompared(`enqueue.${k}`, r.enqueue?.[k]);

    const tp = r.throughput;
    assert.ok(tp, 'throughput missing');
    for (const k of ['c1', 'c10', 'c50', 'twoProcesses', 'progressUpdates', 'rssBusyMB'] as const) assertCompared(`throughput.${k}`, tp[k]);
    for (const k of ['c1', 'c10', 'c50'] as const) assert.ok(isNum(tp.bee[k]) && tp.bee[k] > 0, `bee.${k} = ${tp.bee[k]}`);
    assert.ok(tp.roundTrips.center >= 1 && tp.roundTrips.bullmq >= 1, JSON.stringify(tp.roundTrips));
    for (const [label, cpu] of Object.entries(tp.cpuPerJobUs)) {
      assertCompared(`cpuPerJobUs.${label}.worker`, cpu.worker);
      assertCompared(`cpuPerJobUs.${label}.redis`, cpu.redis);
    }

    assert.ok(r.pickup, 'pickup missing');
    assertPair('pickup.idle', r.pickup.idle, s.idleProbes * s.rounds);
    // The load stream runs for a fixed time, so each side's sample count is its own.
    assertPair('pickup.load', r.pickup.load, undefined);

    assertPair('continuations', r.continuations, s.continuations * s.rounds);
    assertPair('delayError', r.delayError, s.delayedProbes);
    assertPair('schedule', r.schedule, s.ticks);
    assertPair('scheduleDefaultHz', r.scheduleDefaultHz, s.ticks);
    assert.equal(r.schedule?.hz, 100);
    assert.equal(r.scheduleDefaultHz?.hz, 10);

    const h = r.http;
    assert.ok(h, 'http missing');
    for (const route of [h.single, h.bulk]) {
      assert.ok(route.requestsPerSec > 0 && isNum(route.p50) && isNum(route.p99), JSON.stringify(route));
      assert.equal(route.non2xx + route.errors, 0, `every request answered 2xx: ${JSON.stringify(route)}`);
    }
    assert.ok(h.clientRate > 0);

    const f = r.footprint;
    assert.ok(f, 'footprint missing');
    assertCompared('footprint.rssIdleMB', f.rssIdleMB);
    for (const side of ['center', 'bullmq'] as const) {
      assert.equal(f.delayed[side].count, s.footprintDelayed);
      assert.ok(f.delayed[side].mb > 0 && f.delayed[side].bytesEach > 0, JSON.stringify(f.delayed[side]));
      assert.equal(f.schedules[side].count, s.footprintSchedules);
      assert.ok(f.schedules[side].mb > 0 && f.schedules[side].bytesEach > 0, JSON.stringify(f.schedules[side]));
    }
    assertPair('footprint.latenessWithLoad', f.latenessWithLoad, s.loadedTicks);

    assert.ok(r.targets.length >= 15, `targets: ${JSON.stringify(r.targets)}`);
    assert.match(run.stdout, /\*\*Targets\*\* .* of \d+ met/);
    for (const t of r.targets) assert.equal(typeof t.met, 'boolean');
  });

  it('rejects an unknown --only section, naming the allowed ones', async () => {
    const run = await runBench(['--only', 'nope'], 30_000);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /Unknown --only section "nope"; allowed: enqueue, throughput/);
  });
});
