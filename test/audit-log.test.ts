import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './support/app.js';
import { waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * The audit trail as the server writes it: whatever LOG_LEVEL is, one line per write (also when
 * the client went away before the answer), and a message that stays one line in LOG_FORMAT=pretty.
 */

const TOKEN = 'Zq8vK2mP9xL4tR7wY1nB';
const ADMIN = { user: 'ops-admin', password: 'admin-password-123' };

let redis: TestRedis;
before(async () => {
  redis = await startTestRedis({ appendonly: false });
});
after(() => redis.stop());

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix(),
    API_TOKENS: `ops:admin:${TOKEN}`,
    BOARD_USER: ADMIN.user,
    BOARD_PASSWORD: ADMIN.password,
    ...extra,
  };
}

describe('audit log', () => {
  for (const level of ['warn', 'error', 'silent']) {
    it(`is written at LOG_LEVEL=${level}`, async () => {
      const app: TestApp = await startApp(env({ LOG_LEVEL: level }));
      try {
        const res = await fetch(`${app.base}/api/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'hello-world', data: {} }),
        });
        assert.equal(res.status, 201);
        const line = await app.proc.waitForLog((l) => l.audit === true && l.action === 'job.enqueue', 5000);
        assert.equal(line.actor, 'ops');
        assert.equal(line.result, 'ok');
        assert.equal(line.status, 201);
        const refused = await fetch(`${app.base}/api/jobs`, { method: 'POST', headers: { authorization: 'Bearer nope-nope-nope-nope' } });
        assert.equal(refused.status, 401);
        await app.proc.waitForLog((l) => l.audit === true && l.status === 401 && l.result === 'denied', 5000);
        // The level still applies to everything else.
        assert.ok(app.proc.lines.every((l) => l.audit === true || (l.level as number) >= 40), app.proc.output());
      } finally {
        await app.close();
      }
    });
  }

  it('keeps its message on one line: no newline or ANSI escape from a path segment', async () => {
    const app = await startApp(env());
    try {
      const forged = '%0a%5b11:11:11.111%5d%20INFO:%20audit%20fake%20ok%1b%5b31m';
      const res = await fetch(`${app.base}/schedules/x/run${forged}`, { method: 'POST' });
      assert.equal(res.status, 401);
      const line = await app.proc.waitForLog((l) => l.audit === true && l.status === 401, 5000);
      assert.equal(line.action, 'board.schedule.post', 'an unknown action is not named by the caller');
      assert.match(String(line.detail), /run%0a/);
      const msg = String(line.msg);
      assert.ok(!/[\n\r]/.test(msg) && !msg.includes('\u001b'), msg);
      const board = await fetch(`${app.base}/board/api/queues/default/a%0a%1b%5b31m/retry`, {
        method: 'PUT',
        headers: { authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}` },
      });
      await board.text();
      const retry = await app.proc.waitForLog((l) => l.audit === true && l.action === 'board.job.retry', 5000);
      assert.equal(retry.job, 'a\n\u001b[31m', 'the field keeps the id (JSON escapes it)');
      assert.ok(!/[\n\r]/.test(String(retry.msg)) && !String(retry.msg).includes('\u001b'), String(retry.msg));
    } finally {
      await app.close();
    }
  });

  it("names a schedule page write sent with a trailing '/', which Express routes to the action (it was an unnamed board.schedule.post)", async () => {
    const app = await startApp(env());
    try {
      const api = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
      const put = await fetch(`${app.base}/api/recurring/slash-page`, { method: 'PUT', headers: api, body: JSON.stringify({ name: 'hello-world', every: 3_600_000 }) });
      assert.equal(put.status, 200, await put.text());
      const res = await fetch(`${app.base}/schedules/slash-page/pause/`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`,
          origin: app.base,
          'x-requested-with': 'schedule-page',
        },
      });
      assert.equal(res.status, 200, await res.text());
      const line = await app.proc.waitForLog((l) => l.audit === true && typeof l.action === 'string' && l.action.startsWith('board.schedule.'), 5000);
      assert.equal(line.action, 'board.schedule.pause', JSON.stringify(line));
      assert.equal(line.schedule, 'slash-page', JSON.stringify(line));
      assert.equal(line.result, 'ok');
    } finally {
      await app.close();
    }
  });

  it('records an API write whose client went away before the answer, with the answer it got', async () => {
    const app = await startApp(env());
    try {
      await redis.client.call('CLIENT', 'PAUSE', '10000', 'WRITE');
      const body = JSON.stringify({ name: 'hello-world', data: {}, jobId: 'gone-1' });
      const req = request(`${app.base}/api/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('error', () => {});
      req.end(body);
      // The enqueue is under way once the server's write waits on the paused Redis.
      await waitFor(async () => {
        const list = String(await redis.client.call('CLIENT', 'LIST'));
        return list.split('\n').some((l) => /flags=\S*b/.test(l) && !/cmd=(xread|bzpopmin|brpoplpush|blmove|client)\b/.test(l));
      }, 'the enqueue waiting on the paused Redis', 5000);
      req.destroy();
      await redis.client.call('CLIENT', 'UNPAUSE');
      const line = await app.proc.waitForLog((l) => l.audit === true && l.action === 'job.enqueue', 10_000);
      assert.equal(line.actor, 'ops');
      assert.equal(line.job, 'gone-1');
      assert.equal(line.result, 'ok');
      assert.equal(line.status, 201);
      assert.match(String(line.detail), /client closed the connection before the answer/);
      assert.equal(app.proc.lines.filter((l) => l.audit === true).length, 1, 'exactly one record');
    } finally {
      await redis.client.call('CLIENT', 'UNPAUSE').catch(() => {});
      await app.close();
    }
  });
});
