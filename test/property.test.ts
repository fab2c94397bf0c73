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
      API_BODY_LIMIT: '64kb',
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
        runAt: fc.oneof(fc.anything(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()),
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

  /** JSON text nested `depth` levels deep, built as text (JSON.stringify itself would overflow). */
  const nested = (depth: number, kind: 'array' | 'object') =>
    kind === 'array' ? '['.repeat(depth) + '1' + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

  it('payloads nested up to thousands of levels deep, in any field, get 2xx or 400 naming the field, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 6000 })),
        fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>,
        fc.constantFrom('data.result', 'data', 'name', 'jobId', 'after', 'runAt'),
        async (depth, kind, where) => {
          const value = nested(depth, kind);
          const body =
            where === 'data.result'
              ? `{"name":"sleep","data":{"ms":1,"result":${value}}}`
              : where === 'data'
                ? `{"name":"sleep","data":${value}}`
                : `{"name":"sleep","data":{"ms":1},"${where}":${value}}`;
          const status = await check('POST', '/api/jobs', { body });
          const data = where === 'data.result' ? `{"ms":1,"result":${value}}` : where === 'data' ? value : '{"ms":1}';
          const res = await check('PUT', '/api/recurring/deep-x', { body: `{"name":"sleep","every":3600000,"data":${data}}` });
          // `data` holds the result one level down: data.result at depth d makes data d + 1 deep.
          const dataDepth = where === 'data.result' ? depth + 1 : where === 'data' ? depth : 1;
          if (dataDepth > 64) {
            assert.equal(status, 400, `${where} ${depth}`);
            assert.equal(res, 400, `PUT ${where} ${depth}`);
          }
          if (where === 'data.result' && dataDepth <= 64) {
            assert.equal(status, 201, `accepted at depth ${depth}`);
            assert.equal(res, 200, `PUT accepted at depth ${depth}`);
          }
        },
      ),
      { numRuns: 120 },
    );
    const res = await fetch(`${base}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: `{"name":"sleep","data":{"ms":1,"result":${nested(2000, 'array')}}}`,
    });
    const body = (await res.json()) as { details: { field: string; message: string }[] };
    assert.equal(res.status, 400);
    assert.equal(body.details[0]?.field, 'data');
    assert.match(body.details[0]?.message ?? '', /nested more than 64 levels/);
  });

  const numberLike = fc.oneof(
    fc.integer().map(String),
    fc.double({ noNaN: false }).map(String).filter((s) => /^[0-9A-Za-z.-]+$/.test(s)),
    fc.tuple(fc.integer({ min: -999, max: 999 }), fc.nat(99)).map(([m, f]) => `${m}.${f}`),
    fc.tuple(fc.integer({ min: -999, max: 999 }), fc.integer({ min: -30, max: 30 }), fc.constantFrom('e', 'E')).map(([m, e, x]) => `${m}${x}${e}`),
    fc.nat(99).map((n) => `.${n}`),
    fc.nat().map((n) => `0x${n.toString(16)}`),
    fc.constantFrom('-1', '-1.5', '-1e3', '1e5', '-0', 'Infinity', '-Infinity', 'NaN', 'inf', '.', '..', '...'),
  );
  // The names of a queue's own keys: a job hash there meets the wait list, the id counter, … (a
  // random string found `id`: WRONGTYPE, a 500).
  const queueKeyNames = fc.constantFrom(
    ...['id', 'wait', 'waiting-children', 'active', 'paused', 'delayed', 'prioritized', 'completed', 'failed', 'stalled', 'stalled-check'],
    ...['repeat', 'limiter', 'meta', 'events', 'pc', 'marker', 'de', 'metrics'],
  );

  it('number-like, dot-only and queue-key-named job ids get 400 naming jobId, any other string 2xx or 400, never 500', async () => {
    // Jobs without a key first, so the queue's keys (wait list, id counter, meta) exist.
    assert.equal(await check('POST', '/api/jobs', { body: JSON.stringify({ name: 'sleep', data: { ms: 1 } }) }), 201);
    assert.equal(await check('POST', '/api/jobs', { body: JSON.stringify({ name: 'sleep', data: { ms: 1 }, delay: 60_000 }) }), 201);
    await fc.assert(
      fc.asyncProperty(fc.oneof(numberLike, queueKeyNames), async (jobId) => {
        const res = await fetch(`${base}/api/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'sleep', data: { ms: 1 }, jobId }),
        });
        const body = (await res.json()) as { details?: { field: string }[] };
        assert.equal(res.status, 400, `jobId ${JSON.stringify(jobId)} → ${res.status} ${JSON.stringify(body)}`);
        assert.equal(body.details?.[0]?.field, 'jobId');
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 140 }), fc.stringMatching(/^[0-9a-fA-FxXeE.+-]{1,12}$/), fc.stringMatching(/^[a-z-]{1,16}$/)), async (jobId) => {
        const status = await check('POST', '/api/jobs', { body: JSON.stringify({ name: 'sleep', data: { ms: 1 }, jobId }) });
        assert.ok([200, 201, 400].includes(status), `jobId ${JSON.stringify(jobId)} → ${status}`);
      }),
      { numRuns: 300 },
    );
  });

  it('oversized and deeply nested bodies get 413 / 400, and the server keeps serving', async () => {
    assert.equal(await check('POST', '/api/jobs', { body: JSON.stringify({ name: 'sleep', data: { ms: 1, result: 'x'.repeat(70_000) } }) }), 413);
    const deep = '['.repeat(500) + ']'.repeat(500);
    const status = await check('POST', '/api/jobs', { body: deep });
    assert.ok(status === 400 || status === 413, `deep nesting → ${status}`);
    assert.equal(await check('POST', '/api/jobs', { body: '{"name": "sleep", "data": {"ms": 1}' }), 400);
    assert.ok(server.running, server.output());
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
  });
});
