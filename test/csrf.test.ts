import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { startServer } from './board-support.js';
import { testClient, type TestClient } from './support/center.js';
import { ProcessGroup } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Cross-site request forgery against the board, in a real Chromium: the admin is logged in to the
 * board (the browser holds the basic-auth credentials for its origin), then opens a page on
 * another site that tries to add a job with a form POST (text/plain and urlencoded) and with
 * fetch. Nothing may be created; the board's own JSON writes keep working.
 */

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { username: 'csrf-admin', password: 'csrf-admin-password-42' };
const MARK = 'csrf-attack';

let redis: TestRedis;
let group: ProcessGroup;
let client: TestClient;
let browser: Browser | undefined;
let attacker: Server;
let base: string;
let attackerPort: number;

/** The attacker's page: two auto-submitting forms would navigate away, so each form is its own page. */
function attackPage(kind: string, target: string): string | undefined {
  const body = JSON.stringify({ name: MARK, data: { via: kind } });
  switch (kind) {
    case 'form-text':
      // text/plain form: the classic way to smuggle a JSON-looking body past "not a form" checks.
      return `<form method="POST" action="${target}" enctype="text/plain"><input name='${body.slice(0, -1)},"pad":"' value='"}'></form><script>document.forms[0].submit()</script>`;
    case 'form-url':
      return `<form method="POST" action="${target}"><input name="name" value="${MARK}"><input name="data" value="{}"></form><script>document.forms[0].submit()</script>`;
    case 'fetch':
      return `<script>
        Promise.allSettled([
          fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(body)} }),
          fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(body)} }),
        ]).then(() => { document.title = 'done'; });
      </script>`;
    default:
      return undefined;
  }
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  redis = await startTestRedis({ appendonly: false });
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() };
  group = new ProcessGroup(env);
  client = await testClient(env);
  const server = await startServer(group, { BOARD_USER: ADMIN.username, BOARD_PASSWORD: ADMIN.password });
  base = server.base;
  attacker = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const page = attackPage(url.searchParams.get('kind') ?? '', `${base}/board/api/queues/default/add`);
    res.writeHead(page === undefined ? 404 : 200, { 'content-type': 'text/html' });
    res.end(page ?? '');
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerPort = (attacker.address() as AddressInfo).port;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => attacker?.close(resolve));
  await group.stopAll();
  await client?.close();
  await redis?.stop();
});

async function forged(): Promise<number> {
  const queue = client.bullQueues().find((q) => q.name === 'default')!;
  const found = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed']);
  return found.filter((j) => j.name !== 'hello-world').length; // a forged add on today's code had name ''
}

/** A browser whose user is logged in to the board: credentials held for the board's origin only. */
async function loggedInAdmin(): Promise<BrowserContext> {
  const context = await browser!.newContext({ httpCredentials: { ...ADMIN, origin: base } });
  const page = await context.newPage();
  const res = await page.goto(`${base}/board`);
  assert.equal(res?.status(), 200, 'the admin is logged in');
  await page.close();
  return context;
}

describe('board against cross-site request forgery (Chromium)', () => {
  for (const site of ['cross-site (localhost vs 127.0.0.1)', 'same-site, other port']) {
    it(`a page on another origin, ${site}, cannot add a job by form POST or fetch`, { timeout: 60_000 }, async () => {
      const context = await loggedInAdmin();
      const host = site.startsWith('cross') ? 'localhost' : '127.0.0.1';
      const statuses: number[] = [];
      context.on('response', (r) => {
        if (r.url().startsWith(`${base}/board/api/queues/default/add`)) statuses.push(r.status());
      });
      for (const kind of ['form-text', 'form-url']) {
        const page = await context.newPage();
        const answered = page.waitForResponse((r) => r.url().startsWith(`${base}/board/api/`) && r.request().method() === 'POST');
        await page.goto(`http://${host}:${attackerPort}/?kind=${kind}`);
        const res = await answered;
        assert.equal(res.status(), 403, `${kind}: ${await res.text()}`);
        await page.close();
      }
      const page = await context.newPage();
      await page.goto(`http://${host}:${attackerPort}/?kind=fetch`);
      await page.waitForFunction('document.title === "done"');
      await context.close();
      assert.ok(statuses.every((s) => s === 403 || s === 401), `board answers: ${statuses.join(', ')}`);
      assert.equal(await forged(), 0, 'no job was created');
    });
  }

  it("the board's own JSON writes still work from its page, and every response carries the anti-framing headers", { timeout: 60_000 }, async () => {
    const context = await loggedInAdmin();
    const page = await context.newPage();
    const res = await page.goto(`${base}/board`);
    const headers = res!.headers();
    assert.equal(headers['content-security-policy'], "frame-ancestors 'none'");
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    const answer = await page.evaluate(async () => {
      const r = await fetch('/board/api/queues/default/add', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'hello-world', data: {} }),
      });
      const pause = await fetch('/board/api/queues/default/pause', { method: 'PUT' });
      const resume = await fetch('/board/api/queues/default/resume', { method: 'PUT' });
      return [r.status, pause.status, resume.status];
    });
    assert.deepEqual(answer, [200, 200, 200], 'same-origin JSON add and body-less pause/resume are allowed');
    await context.close();
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.headers.get('x-frame-options'), 'DENY', 'on every response, not only the board');
  });

  it('a non-JSON body is refused 415 even with the right origin; a program without Origin may write JSON', async () => {
    const auth = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;
    const plain = await fetch(`${base}/board/api/queues/default/add`, {
      method: 'POST',
      headers: { authorization: auth, origin: base, 'content-type': 'text/plain' },
      body: JSON.stringify({ name: MARK, data: {} }),
    });
    assert.equal(plain.status, 415, await plain.text());
    const forgedOrigin = await fetch(`${base}/board/api/queues/default/add`, {
      method: 'POST',
      headers: { authorization: auth, origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ name: MARK, data: {} }),
    });
    assert.equal(forgedOrigin.status, 403);
    const script = await fetch(`${base}/board/api/queues/default/add`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'hello-world', data: {} }),
    });
    assert.equal(script.status, 200, await script.text());
    assert.equal(await forged(), 0);
  });
});
