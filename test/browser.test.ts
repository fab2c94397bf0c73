import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { JobCenterClient, JobRef } from '../src/client.js';
import { startServer } from './board-support.js';
import { testClient } from './support/center.js';
import { ProcessGroup, ROOT, waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * The board in a real browser: Debian's chromium (never a downloaded one) driven by playwright-core,
 * against a real server process and a real worker process. Screenshots go to test-artifacts/.
 */

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { username: 'board-admin', password: 'browser-admin-password' };
const VIEWER = { username: 'board-viewer', password: 'browser-viewer-password' };
const ARTIFACTS = resolve(ROOT, 'test-artifacts');

let redis: TestRedis;
let group: ProcessGroup;
let client: JobCenterClient;
let browser: Browser | undefined;
let base: string;
let hello: JobRef;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  redis = await startTestRedis({ appendonly: false });
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() };
  group = new ProcessGroup(env);
  client = await testClient(env);
  const worker = group.start('worker');
  const [server] = await Promise.all([
    startServer(group, {
      BOARD_USER: ADMIN.username,
      BOARD_PASSWORD: ADMIN.password,
      BOARD_VIEWER_USER: VIEWER.username,
      BOARD_VIEWER_PASSWORD: VIEWER.password,
      API_TOKEN: 'browser-test-token-0123456789',
    }),
    worker.waitForMessage('Worker started', 30_000),
  ]);
  base = server.base;
  hello = await client.enqueue('hello-world', {});
  const more = [
    await client.enqueue('hello-world', {}),
    await client.enqueue('sleep', { ms: 50, result: 'slept' }),
    await client.enqueue('fail', { message: 'boom (a deliberately failing job)' }, { attempts: 1 }),
  ];
  await waitFor(async () => {
    const states = await Promise.all([hello, ...more].map((r) => client.getJob(r).then((j) => j?.state)));
    return states.every((s) => s === 'completed' || s === 'failed');
  }, 'jobs finished', 30_000);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  await group.stopAll();
  await client.close();
  await redis.stop();
});

/** A logged-in page; fails the test on any 4xx/5xx from the board (e.g. a lockout by our own limiter). */
async function openAs(credentials: { username: string; password: string }): Promise<{ page: Page; errors: string[] }> {
  const context = await browser!.newContext({ httpCredentials: credentials, viewport: { width: 1400, height: 860 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('response', (res) => {
    if (res.url().startsWith(base) && res.status() >= 400 && res.status() !== 401) errors.push(`${res.status()} ${res.url()}`);
  });
  return { page, errors };
}

/**
 * Names (tooltips) of the action buttons on the first job card of the page. The board re-renders the
 * list on its polling refresh; a button replaced under a resting mouse gets no new hover, and no
 * tooltip opens. So each read starts with the mouse away and no tooltip open, and a hover that opened
 * nothing within 3 s is tried again.
 */
async function jobActions(page: Page): Promise<string[]> {
  const buttons = page.locator('[class*="jobActions"]').first().locator('[data-base-ui-tooltip-trigger]');
  const open = page.locator('[data-base-ui-portal] [data-open]:not([role])');
  const names: string[] = [];
  for (let i = 0; i < (await buttons.count()); i++) {
    for (let attempt = 1; ; attempt++) {
      await page.mouse.move(0, 0);
      await open.first().waitFor({ state: 'hidden' });
      await buttons.nth(i).hover();
      try {
        await open.first().waitFor({ timeout: 3_000 });
        names.push((await open.first().textContent())?.trim() ?? '');
        break;
      } catch (error) {
        if (attempt === 5) throw error;
      }
    }
  }
  return names;
}

describe('board in a browser', () => {
  it('the admin logs in, sees the queues and the completed job, with retry and remove buttons', async () => {
    const { page, errors } = await openAs(ADMIN);
    await page.goto(`${base}/board`);
    await page.getByText('Job Center', { exact: true }).first().waitFor();
    const sidebar = page.locator('nav, aside').first();
    for (const queue of ['default', 'batch']) await sidebar.getByText(queue, { exact: true }).waitFor();
    await page.screenshot({ path: resolve(ARTIFACTS, 'board-admin-overview.png') });

    await page.goto(`${base}/board/queue/default?status=completed`);
    const card = page.locator(`a[href$="/queue/default/${hello.id}?status=completed"]`);
    await card.waitFor();
    // Job ids are generated idempotency keys (UUIDs); Bull Board shows a long id without "#name".
    assert.ok(((await card.textContent()) ?? '').includes(hello.id), await card.textContent() ?? '');
    await page.getByRole('button', { name: 'Retry all' }).waitFor();
    await page.getByRole('button', { name: 'Clean all' }).waitFor();
    await page.screenshot({ path: resolve(ARTIFACTS, 'board-admin-completed.png') });
    const actions = await jobActions(page);
    assert.ok(actions.includes('Retry') && actions.includes('Clean'), `admin job actions: ${actions.join(', ')}`);
    assert.deepEqual(errors, []);
  });

  it('the viewer sees the same jobs without any button that changes something', async () => {
    const { page, errors } = await openAs(VIEWER);
    await page.goto(`${base}/board/queue/default?status=completed`);
    await page.locator(`a[href$="/queue/default/${hello.id}?status=completed"]`).waitFor();
    await page.getByText('read-only').first().waitFor();
    assert.deepEqual(await jobActions(page), []);
    assert.equal(await page.getByRole('button', { name: 'Retry all' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Clean all' }).count(), 0);

    await page.goto(`${base}/board/queue/default?status=failed`);
    await page.getByText('fail', { exact: true }).first().waitFor();
    assert.deepEqual(await jobActions(page), [], 'no retry on a failed job either');
    await page.screenshot({ path: resolve(ARTIFACTS, 'board-viewer-failed.png') });
    assert.deepEqual(errors, []);
  });
});
