import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import { handlers } from '../workers/handlers/index.js';
import { auditLines, http, startServer } from './board-support.js';
import { silentLogger, testClient, testConfig, type TestClient } from './support/center.js';
import { ProcessGroup, ROOT, waitFor, type CenterProcess } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * The schedule health page in Debian's chromium, against a real server process and an in-process
 * worker: rows with health colours and run strips, the admin's pause/resume/run buttons, the
 * viewer's read-only view, cross-site writes refused, audit. Its screenshot goes to test-artifacts/.
 */

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { username: 'page-admin', password: 'page-admin-password-1' };
const VIEWER = { username: 'page-viewer', password: 'page-viewer-password-1' };

let redis: TestRedis;
let group: ProcessGroup;
let client: TestClient;
let browser: Browser | undefined;
let server: { proc: CenterProcess; base: string };
const lifecycle = new Lifecycle(silentLogger);

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  mkdirSync(resolve(ROOT, 'test-artifacts'), { recursive: true });
  redis = await startTestRedis({ appendonly: false });
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() };
  group = new ProcessGroup(env);
  client = await testClient(env);
  server = await startServer(group, {
    BOARD_USER: ADMIN.username,
    BOARD_PASSWORD: ADMIN.password,
    BOARD_VIEWER_USER: VIEWER.username,
    BOARD_VIEWER_PASSWORD: VIEWER.password,
  });
  await client.recurring.upsert('heartbeat', { every: 400 }, 'hello-world', {});
  await client.recurring.upsert('flaky-import', { every: 700 }, 'fail', { message: 'upstream timed out' });
  await client.recurring.upsert('nightly-report', { cron: '30 2 * * *', tz: 'Europe/Paris' }, 'scheduler-test', {});
  await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers });
  await waitFor(async () => (await client.recurring.runs('heartbeat')).length >= 12 && (await client.recurring.runs('flaky-import')).length >= 1, 'runs', 30_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
});

after(async () => {
  await browser?.close();
  await lifecycle.shutdown();
  await group.stopAll();
  await client.close();
  await redis.stop();
});

describe('schedule health page', () => {
  it('the admin sees every schedule with its health, last run and run strip, and pauses and resumes one', async () => {
    const context = await browser!.newContext({ httpCredentials: ADMIN, viewport: { width: 1400, height: 520 } });
    const page = await context.newPage();
    await page.goto(`${server.base}/schedules`);
    const row = (id: string) => page.locator(`tr[data-schedule="${id}"]`);
    await row('heartbeat').waitFor();
    assert.match((await row('heartbeat').locator('.health').textContent()) ?? '', /^(ok|late)$/);
    assert.equal(await row('flaky-import').locator('.health').textContent(), 'failing');
    assert.match((await row('flaky-import').textContent()) ?? '', /upstream timed out/);
    assert.equal(await row('nightly-report').locator('.health').textContent(), 'pending');
    assert.match((await row('nightly-report').textContent()) ?? '', /02:30.*Europe\/Paris|Europe\/Paris/);
    assert.ok((await row('heartbeat').locator('.run').count()) >= 12, 'a strip of runs');
    // docs/schedule-health.png is a copy of this one.
    await page.screenshot({ path: resolve(ROOT, 'test-artifacts/schedule-health.png') });

    await row('heartbeat').getByRole('button', { name: 'Pause' }).click();
    await row('heartbeat').getByRole('button', { name: 'Resume' }).waitFor();
    assert.equal(await row('heartbeat').locator('.health').textContent(), 'paused');
    assert.equal((await client.recurring.get('heartbeat'))!.paused, true);
    await row('heartbeat').getByRole('button', { name: 'Resume' }).click();
    await row('heartbeat').getByRole('button', { name: 'Pause' }).waitFor();
    assert.equal((await client.recurring.get('heartbeat'))!.paused, false);
    await row('nightly-report').getByRole('button', { name: 'Run now' }).click();
    await waitFor(async () => (await client.queues.get('default').getJobs(['completed'])).some((j) => String(j.id).startsWith('trigger-nightly-report')), 'the triggered run');
    // The server writes its audit line as it answers; its output reaches this process a moment later.
    const audited = () => auditLines(server.proc).map((l) => `${String(l.actor)} ${String(l.action)} ${String(l.schedule)} ${String(l.result)}`);
    for (const a of ['pause', 'resume', 'run']) {
      const line = `page-admin board.schedule.${a} ${a === 'run' ? 'nightly-report' : 'heartbeat'} ok`;
      await waitFor(() => audited().includes(line), `audit line "${line}"; have:\n${audited().join('\n')}`);
    }
    await context.close();
  });

  it('the viewer reads without buttons; viewer and cross-site writes are refused', async () => {
    const context = await browser!.newContext({ httpCredentials: VIEWER });
    const page = await context.newPage();
    await page.goto(`${server.base}/schedules`);
    await page.locator('tr[data-schedule="heartbeat"]').waitFor();
    assert.equal(await page.locator('button').count(), 0);
    await context.close();

    const post = (auth: { user: string; password: string }, headers: Record<string, string>) =>
      http(`${server.base}/schedules/heartbeat/pause`, { method: 'POST', auth, headers });
    const sameSite = { origin: server.base, 'x-requested-with': 'schedule-page' };
    assert.equal((await post({ user: VIEWER.username, password: VIEWER.password }, sameSite)).status, 403);
    assert.equal((await post({ user: ADMIN.username, password: ADMIN.password }, { ...sameSite, origin: 'https://evil.example' })).status, 403);
    assert.equal((await post({ user: ADMIN.username, password: ADMIN.password }, { origin: server.base })).status, 403, 'a plain form post');
    assert.equal((await http(`${server.base}/schedules`)).status, 401);
    assert.equal((await client.recurring.get('heartbeat'))!.paused, false);
    // Every refusal is on record, as the board's are (the cross-site ones were not).
    const records = await waitFor(() => {
      const r = auditLines(server.proc).filter((l) => l.action === 'board.schedule.pause' && l.schedule === 'heartbeat' && l.result === 'denied');
      return r.length >= 3 ? r : undefined;
    }, 'three denied pauses on record');
    assert.ok(records.some((r) => r.actor === ADMIN.username && r.status === 403), JSON.stringify(records));
  });

  it('behind a trusted proxy that rewrites Host, the buttons work: Origin is checked against the forwarded origin, as on the board', async () => {
    const proxied = await startServer(group, { BOARD_USER: ADMIN.username, BOARD_PASSWORD: ADMIN.password, TRUST_PROXY: 'loopback' });
    const admin = { user: ADMIN.username, password: ADMIN.password };
    const forwarded = { 'x-forwarded-host': 'jobs.example.com', 'x-forwarded-proto': 'https', 'x-requested-with': 'schedule-page' };
    const post = (action: string, origin: string) => http(`${proxied.base}/schedules/heartbeat/${action}`, { method: 'POST', auth: admin, headers: { ...forwarded, origin } });
    const paused = await post('pause', 'https://jobs.example.com');
    assert.equal(paused.status, 200, paused.text);
    assert.equal((await client.recurring.get('heartbeat'))!.paused, true);
    const resumed = await post('resume', 'https://jobs.example.com');
    assert.equal(resumed.status, 200, resumed.text);
    // The proxy's own address is not the browser's origin.
    assert.equal((await post('pause', proxied.base)).status, 403);
    assert.equal((await client.recurring.get('heartbeat'))!.paused, false);
  });

  it("answers what it audits: Object's method names are no actions (404, was 500), a refused resume is a 409 on record as 409", async () => {
    const admin = { user: ADMIN.username, password: ADMIN.password };
    const sameSite = { origin: server.base, 'x-requested-with': 'schedule-page' };
    for (const action of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const res = await http(`${server.base}/schedules/heartbeat/${action}`, { method: 'POST', auth: admin, headers: sameSite });
      assert.equal(res.status, 404, `${action}: ${res.status} ${res.text}`);
    }
    // A schedule paused before its endDate, resumed after it: refused with 409, audited as 409 (was 500).
    const end = Date.now() + 1500;
    await client.recurring.upsert('ending-page', { every: 3_600_000, endDate: new Date(end).toISOString() }, 'hello-world', {});
    await client.recurring.pause('ending-page');
    await waitFor(() => Date.now() > end + 50 || undefined, 'the end date to pass', 5000);
    const before = auditLines(server.proc).length;
    const resumed = await http(`${server.base}/schedules/ending-page/resume`, { method: 'POST', auth: admin, headers: sameSite });
    assert.equal(resumed.status, 409, resumed.text);
    const record = await waitFor(() => auditLines(server.proc).slice(before).find((l) => l.action === 'board.schedule.resume'), 'the audit record');
    assert.equal(record.status, 409);
    await client.recurring.remove('ending-page');
  });
});
