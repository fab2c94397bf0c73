import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { validateCron } from '../src/cron.js';
import { ValidationError } from '../src/errors.js';
import { freePort } from '../src/redis/redis-server.js';
import { ProcessGroup, type CenterProcess } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Property-based tests: random and malformed input must always get a clear validation error
 * (a 4xx JSON body over HTTP), never a 500, a crash or a hang.
 */

const TOKEN = 'property-test-token-0123456789';
const cronField = fc.oneof(
  fc.constantFrom('*', '?', 'L', '*/5', '1-5', '1,2,3', 'MON', 'JAN', '0', '59', '60', '-1', '5#2', 'L-2', 'W', '*/0', ''),
  fc.string({ maxLength: 6 }),
  fc.integer({ min: -100, max: 100 }).map(String),
);

describe('cron validator (property-based)', () => {
  it('either accepts a pattern or throws a ValidationError on field cron, for any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 80 }), fc.array(cronField, { minLength: 0, maxLength: 8 }).map((f) => f.join(' '))),
        (pattern) => {
          try {
            validateCron(pattern);
          } catch (err) {
            assert.ok(err instanceof ValidationError, `non-validation error for ${JSON.stringify(pattern)}: ${String(err)}`);
            assert.equal(err.details[0]?.field, 'cron');
            assert.match(err.message, /Expected 5 fields/);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects anything that is not a string, and unknown time zones, with a ValidationError', () => {
    fc.assert(
      fc.property(fc.anything(), fc.option(fc.string({ maxLength: 30 })), (value, tz) => {
        try {
          validateCron(value as string, tz ?? undefined);
        } catch (err) {
          assert.ok(err instanceof ValidationError, `${String(err)}`);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('HTTP API under random input (property-based)', () => {
  let redis: TestRedis;
  let group: ProcessGroup;
  let server: CenterProcess;
  let base: string;

  before(async () => {
    redis = await startTestRedis({ appendonly: false });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    group = new ProcessGroup({
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix(),
      PORT: String(port),
      API_TOKEN: TOKEN,
      API_BODY_LIMIT: '2kb',
      BOARD_USER: 'admin',
      BOARD_PASSWORD: 'property-test-password',
      AUTH_MAX_FAILURES: '10000',
    });
    server = group.start('server');
    await server.waitForMessage('Server listening');
  });
  after(async () => {
    await group.stopAll();
    await redis.stop();
  });

  async function check(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...init.headers },
      body: init.body,
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    const where = `${method} ${path} ${init.body?.slice(0, 200) ?? ''} → ${res.status} ${text.slice(0, 300)}`;
    assert.ok(res.status < 500, `server error: ${where}`);
    if (res.status >= 400) {
      const body = JSON.parse(text) as { error?: unknown; details?: unknown };
      assert.equal(typeof body.error, 'string', `4xx without an error message: ${where}`);
      assert.ok(Array.isArray(body.details), `4xx without details: ${where}`);
    }
    return res.status;
  }

  const jsonish = fc.oneof(
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
    fc.record(
      {
        name: fc.oneof(fc.constantFrom('sleep', 'fail', 'hello-world', 'scheduler-test', 'nope', '__proto__', 'constructor'), fc.anything()),
        data: fc.oneof(fc.anything(), fc.record({ ms: fc.anything(), message: fc.anything(), times: fc.anything() }, { requiredKeys: [] })),
        delay: fc.anything(),
        runAt: fc.oneof(fc.anything(), fc.date().map((d) => d.toISOString()), fc.string()),
        jobId: fc.oneof(fc.anything(), fc.string({ maxLength: 10 })),
        after: fc.oneof(fc.anything(), fc.record({ queue: fc.anything(), id: fc.anything() })),
        on: fc.anything(),
        cron: fc.oneof(fc.anything(), fc.array(cronField, { maxLength: 7 }).map((f) => f.join(' '))),
        every: fc.anything(),
        tz: fc.anything(),
      },
      { requiredKeys: [] },
    ).map((o) => JSON.stringify(o)),
  );

  it('POST /api/jobs and PUT /api/recurring/:id answer 2xx or 4xx JSON for any body', async () => {
    await fc.assert(
      fc.asyncProperty(jsonish, fc.string({ maxLength: 20 }), async (body, id) => {
        await check('POST', '/api/jobs', { body });
        await check('PUT', `/api/recurring/${encodeURIComponent(id) || 'x'}`, { body });
      }),
      { numRuns: 150 },
    );
  });

  it('any path, query string, header or method under /api gets 2xx-4xx JSON', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        fc.constantFrom('/api/jobs', '/api/jobs/default/', '/api/jobs/batch/', '/api/jobs/default/x/retry', '/api/recurring/', '/api/recurring/x/trigger', '/api/'),
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 30 }),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin-9', ''),
        fc.oneof(fc.constant(`Bearer ${TOKEN}`), fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''))),
        async (method, prefix, segment, query, contentType, authorization) => {
          const path = `${prefix}${encodeURIComponent(segment)}?${encodeURIComponent(query)}=${encodeURIComponent(segment)}`;
          const hasBody = method !== 'GET' && method !== 'DELETE';
          await check(method, path, {
            body: hasBody ? query : undefined,
            headers: { 'content-type': contentType, authorization },
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('oversized and deeply nested bodies get 413 / 400, and the server keeps serving', async () => {
    assert.equal(await check('POST', '/api/jobs', { body: JSON.stringify({ name: 'sleep', data: { ms: 1, result: 'x'.repeat(5000) } }) }), 413);
    const deep = '['.repeat(500) + ']'.repeat(500);
    const status = await check('POST', '/api/jobs', { body: deep });
    assert.ok(status === 400 || status === 413, `deep nesting → ${status}`);
    assert.equal(await check('POST', '/api/jobs', { body: '{"name": "sleep", "data": {"ms": 1}' }), 400);
    assert.ok(server.running, server.output());
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
  });
});
