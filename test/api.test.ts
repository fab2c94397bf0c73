import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestClient as JobCenterClient } from './support/center.js';
import { jobs } from '../contracts/index.js';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import { handlers } from '../workers/handlers/index.js';
import { auditLines, http } from './board-support.js';
import { startApp, type TestApp } from './support/app.js';
import { silentLogger, testClient, testConfig } from './support/center.js';
import { waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * The HTTP API (the server's app in this process, on a free port) over real HTTP: every endpoint, every kind of bad input
 * (always a 4xx `{ error, details }`, never a 500), auth, audit, the body limit, the OpenAPI
 * document, and 503 while Redis is down.
 */

const TOKEN = 'test-api-token-0123456789';
const BOARD = { BOARD_USER: 'admin', BOARD_PASSWORD: 'admin-password-for-tests' };

let redis: TestRedis;
let downRedis: TestRedis;
const lifecycle = new Lifecycle(silentLogger);
let api: TestApp;
let tokenless: TestApp;
let fragile: TestApp;
let client: JobCenterClient;

before(async () => {
  [redis, downRedis] = await Promise.all([startTestRedis(), startTestRedis({ appendonly: false })]);
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), API_TOKEN: TOKEN, API_BODY_LIMIT: '2kb', ...BOARD };
  [api, tokenless, fragile] = await Promise.all([
    startApp(env),
    startApp({ ...BOARD, REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() }),
    startApp({ ...BOARD, REDIS_URL: downRedis.url, QUEUE_PREFIX: uniquePrefix(), API_TOKEN: TOKEN, AUTH_MAX_FAILURES: '2' }),
  ]);
  client = await testClient(env);
  // An in-process worker (the real handlers) under the API server's prefix, so jobs complete.
  await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers });
});
after(async () => {
  await Promise.all([api, tokenless, fragile].map((a) => a?.close()));
  await lifecycle.shutdown();
  await client?.close();
  await Promise.all([redis?.stop(), downRedis?.stop()]);
});

interface Reply {
  status: number;
  headers: Headers;
  body: { error?: string; details?: { field: string; message: string }[] } & Record<string, unknown>;
}

/** A request with the API token; `raw` sends the body text as is. */
async function call(method: string, path: string, opts: { json?: unknown; raw?: string; type?: string; token?: string | null; base?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? TOKEN}`;
  let body: string | undefined;
  if (opts.json !== undefined) body = JSON.stringify(opts.json);
  if (opts.raw !== undefined) body = opts.raw;
  if (body !== undefined && opts.type !== '') headers['content-type'] = opts.type ?? 'application/json';
  const res = await fetch(`${opts.base ?? api.base}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
}

function assertError(r: Reply, status: number, field?: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(typeof r.body.error, 'string');
  assert.ok(Array.isArray(r.body.details), JSON.stringify(r.body));
  if (field) assert.ok(r.body.details!.some((d) => d.field === field), `expected a detail for ${field}: ${JSON.stringify(r.body)}`);
}

type JsonSchema = { $ref?: string; type?: string | string[]; properties?: Record<string, JsonSchema>; required?: string[]; additionalProperties?: boolean; enum?: unknown[] };
type OpenApiDoc = {
  paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json': { schema: JsonSchema } } }> }>>;
  components: { schemas: Record<string, JsonSchema> };
};

/** The answer's status is documented for the route, and its body has the documented top-level fields (no more, no fewer). */
function assertDocumented(doc: OpenApiDoc, method: string, path: string, r: Reply): void {
  const response = doc.paths[path]?.[method]?.responses[String(r.status)];
  assert.ok(response, `${method} ${path} documents ${r.status}`);
  let schema = response.content?.['application/json'].schema;
  assert.ok(schema, `${method} ${path} ${r.status} has a schema`);
  if (schema.$ref) schema = doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!;
  for (const key of schema.required ?? []) assert.ok(key in r.body, `${method} ${path} ${r.status}: ${key} is required: ${JSON.stringify(r.body)}`);
  for (const [key, value] of Object.entries(r.body)) {
    const property = schema.properties?.[key];
    if (schema.additionalProperties === false) assert.ok(property, `${method} ${path} ${r.status}: ${key} is not in the document: ${JSON.stringify(r.body)}`);
    if (property?.enum) assert.ok(property.enum.includes(value), `${key}: ${JSON.stringify(value)} is one of ${JSON.stringify(property.enum)}`);
  }
}

const completed = (queue: string, id: string) =>
  waitFor(async () => {
    const r = await call('GET', `/api/jobs/${queue}/${encodeURIComponent(id)}`);
    return r.body.state === 'completed' || r.body.state === 'failed' ? r.body : undefined;
  }, `${queue}/${id} to finish`);

describe('HTTP API', () => {
  it('requires the bearer token (401 with a challenge) and audits refused mutations', async () => {
    for (const token of [null, 'wrong-token-wrong-token']) {
      const r = await call('POST', '/api/jobs', { json: { name: 'hello-world' }, token });
      assertError(r, 401, 'Authorization');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assertError(await call('GET', '/api/recurring', { token: null }), 401);
    assert.equal((await call('GET', '/api/openapi.json', { token: null })).status, 200, 'the API description is public');
    await api.proc.waitForLog((l) => l.audit === true && l.action === 'job.enqueue' && l.result === 'denied' && l.actor === 'anonymous');
  });

  it('POST /api/jobs enqueues (201) and GET /api/jobs/:queue/:id reports it to the end', async () => {
    const r = await call('POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 20, result: { ok: true } } } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ['id', 'name', 'queue', 'state']);
    assert.equal(r.body.queue, 'batch');
    assert.equal(r.body.name, 'sleep');
    assert.equal(r.headers.get('location'), `/api/jobs/batch/${String(r.body.id)}`);
    const job = await completed('batch', String(r.body.id));
    assert.deepEqual(
      Object.keys(job).sort(),
      ['attemptsMade', 'createdAt', 'data', 'failedReason', 'finishedAt', 'id', 'name', 'processedAt', 'progress', 'queue', 'returnValue', 'state'],
    );
    assert.equal(job.state, 'completed');
    assert.deepEqual((job.returnValue as { result: unknown }).result, { ok: true });
    assert.equal(job.progress, 100);
    assert.ok(typeof job.finishedAt === 'string');
  });

  it('delay, runAt and idempotent jobId', async () => {
    const delayed = await call('POST', '/api/jobs', { json: { name: 'hello-world', delay: 60_000 } });
    assert.equal(delayed.status, 201);
    assert.equal(delayed.body.state, 'delayed');
    const at = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: 'x' }, runAt: new Date(Date.now() + 3_600_000).toISOString() } });
    assert.equal(at.body.state, 'delayed');
    const first = await call('POST', '/api/jobs', { json: { name: 'hello-world', jobId: 'invoice-7', delay: 60_000 } });
    const again = await call('POST', '/api/jobs', { json: { name: 'hello-world', jobId: 'invoice-7', delay: 60_000 } });
    assert.equal(first.status, 201);
    assert.equal(again.status, 200, 'nothing new was created');
    assert.deepEqual(again.body, { id: 'invoice-7', queue: 'default', name: 'hello-world', state: 'delayed', duplicate: true });
    assert.equal((await client.queues.get('default').getJobs(['delayed'])).filter((j) => j.id === 'invoice-7').length, 1);
  });

  it('POST /api/jobs with after registers a continuation, on another queue, that runs after its parent', async () => {
    const parent = await call('POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 300 } } });
    const cont = await call('POST', '/api/jobs', {
      json: { name: 'scheduler-test', data: { note: 'then' }, after: { queue: 'batch', id: parent.body.id }, on: 'finished' },
    });
    assert.equal(cont.status, 201, JSON.stringify(cont.body));
    assert.equal(cont.body.state, 'awaiting');
    assert.equal(cont.body.queue, 'default');
    assert.equal((await call('GET', `/api/jobs/default/${String(cont.body.id)}`)).body.state, 'awaiting');
    const done = await completed('default', String(cont.body.id));
    assert.equal(done.state, 'completed');
    assertError(await call('POST', '/api/jobs', { json: { name: 'hello-world', after: { queue: 'batch', id: 'nope' } } }), 404);
  });

  it('POST /api/jobs with after: [several] registers a join that runs once after all of them; GET /api/batches/:join shows it', async () => {
    const a = await call('POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 200 } } });
    const b = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: {} } });
    const parents = [{ queue: 'batch', id: a.body.id }, { queue: 'default', id: b.body.id }];
    const joined = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: 'joined' }, after: parents, jobId: 'http-join' } });
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    assert.equal(joined.body.join, 'http-join');
    assert.equal(joined.body.id, 'batthen-http-join');
    const again = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: 'joined' }, after: parents, jobId: 'http-join' } });
    assert.equal(again.status, 200, 'a retry with the same key adds nothing');
    assert.equal((await completed('default', 'batthen-http-join')).state, 'completed');
    const status = await call('GET', '/api/batches/http-join');
    assert.equal(status.status, 200);
    assert.equal(status.body.completed, 2);
    assertError(await call('POST', '/api/jobs', { json: { name: 'hello-world', after: [parents[0], { queue: 'batch', id: 'nope' }] } }), 404);
  });

  it('POST /api/jobs/:queue/:id/retry runs a failed job once more (202); 409 when not failed, 404 when absent', async () => {
    const r = await call('POST', '/api/jobs', { json: { name: 'fail', data: { message: 'first try fails', times: 1 }, attempts: 1 } });
    assert.equal(r.status, 201);
    const id = String(r.body.id);
    const failed = await completed('default', id);
    assert.equal(failed.state, 'failed');
    const retried = await call('POST', `/api/jobs/default/${id}/retry`);
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    const done = await waitFor(async () => {
      const j = await call('GET', `/api/jobs/default/${id}`);
      return j.body.state === 'completed' ? j.body : undefined;
    }, 'retried job completed');
    assert.deepEqual(done.returnValue, { succeededOnAttempt: 2 });
    assertError(await call('POST', `/api/jobs/default/${id}/retry`), 409);
    assertError(await call('POST', '/api/jobs/default/no-such-job/retry'), 404);
    assertError(await call('POST', '/api/jobs/nope/x/retry'), 404);
    await api.proc.waitForLog((l) => l.audit === true && l.action === 'job.retry' && l.job === id && l.result === 'ok');
  });

  it('recurring: PUT creates and updates (200), GET lists with next, trigger (202) leaves the schedule, DELETE 204 then 404', async () => {
    const put = await call('PUT', '/api/recurring/digest', { json: { name: 'scheduler-test', data: { note: 'd' }, cron: '0 7 * * 1-5', tz: 'Europe/Berlin' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.tz, 'Europe/Berlin');
    const upd = await call('PUT', '/api/recurring/digest', { json: { name: 'scheduler-test', data: { note: 'e' }, cron: '0 8 * * 1-5', tz: 'Europe/Berlin', overlap: 'skip' } });
    assert.equal(upd.status, 200);
    assert.equal(upd.body.overlap, 'skip');
    const list = (await call('GET', '/api/recurring')).body as unknown as Record<string, unknown>[];
    const digest = list.find((s) => s.id === 'digest');
    assert.ok(digest, JSON.stringify(list));
    for (const key of ['id', 'name', 'queue', 'cron', 'tz', 'next', 'data']) assert.ok(key in digest, `list item has ${key}`);
    assert.equal(digest.cron, '0 8 * * 1-5');
    assert.deepEqual(digest.data, { note: 'e' });
    assert.ok(Date.parse(String(digest.next)) > Date.now());
    assert.deepEqual((await call('GET', '/api/recurring/digest')).body, digest);

    const trig = await call('POST', '/api/recurring/digest/trigger');
    assert.equal(trig.status, 202, JSON.stringify(trig.body));
    assert.equal(trig.body.queue, 'default');
    assert.equal((await completed('default', String(trig.body.id))).state, 'completed');
    assert.deepEqual((await call('GET', '/api/recurring/digest')).body, digest, 'schedule unchanged');

    // Triggers at the same moment are each a run (they shared an id within a millisecond, and BullMQ
    // dropped all but one while every request answered 202).
    const burst = await Promise.all(Array.from({ length: 30 }, () => call('POST', '/api/recurring/digest/trigger')));
    assert.ok(burst.every((r) => r.status === 202), JSON.stringify(burst.map((r) => r.status)));
    const ids = burst.map((r) => String(r.body.id));
    assert.equal(new Set(ids).size, 30, `30 distinct runs: ${ids.join(', ')}`);
    for (const id of ids) assert.equal((await completed('default', id)).state, 'completed', id);

    const every = await call('PUT', '/api/recurring/tick', { json: { name: 'hello-world', every: 3_600_000 } });
    assert.equal(every.body.every, 3_600_000);
    assert.equal((await call('DELETE', '/api/recurring/digest')).status, 204);
    assertError(await call('DELETE', '/api/recurring/digest'), 404);
    assertError(await call('POST', '/api/recurring/digest/trigger'), 404);
    assertError(await call('GET', '/api/recurring/digest'), 404);
  });

  it('answers every kind of bad input with a 4xx { error, details } naming the field, never a 500', async () => {
    const cases: [string, string, { json?: unknown; raw?: string; type?: string }, number, string?][] = [
      ['POST', '/api/jobs', { raw: '{"name": "hello-world",' }, 400, 'body'],
      ['POST', '/api/jobs', { raw: '[1, 2]' }, 400, 'body'],
      ['POST', '/api/jobs', { raw: '"just a string"' }, 400, 'body'],
      ['POST', '/api/jobs', { raw: 'name=hello-world', type: 'application/x-www-form-urlencoded' }, 400, 'body'],
      ['POST', '/api/jobs', { raw: '{"name":"hello-world"}', type: '' }, 400, 'body'],
      ['POST', '/api/jobs', { json: {} }, 400, 'name'],
      ['POST', '/api/jobs', { json: { name: 'no-such-job' } }, 400, 'name'],
      ['POST', '/api/jobs', { json: { name: 42 } }, 400, 'name'],
      ['POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 'long' } } }, 400, 'data.ms'],
      ['POST', '/api/jobs', { json: { name: 'sleep' } }, 400, 'data.ms'],
      ['POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 1, colour: 'red' } } }, 400, 'data'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', priorty: 1 } }, 400, 'priorty'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', delay: -1 } }, 400, 'delay'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', delay: '10s' } }, 400, 'delay'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', delay: 5, runAt: '2030-01-01T00:00:00Z' } }, 400, 'runAt'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', runAt: 'tomorrow' } }, 400, 'runAt'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', jobId: 'a:b' } }, 400, 'jobId'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', jobId: '123' } }, 400, 'jobId'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', priority: 2_097_152 } }, 400, 'priority'],
      ['POST', '/api/jobs/bulk', { json: { jobs: [{ name: 'hello-world' }, { name: 'hello-world', priority: 2_097_152 }] } }, 400, 'jobs.1.priority'],
      ['POST', '/api/jobs/default/wait/retry', {}, 404],
      ['POST', '/api/jobs/default/events/promote', {}, 404],
      ['POST', '/api/jobs/default/meta/retry', {}, 404],
      ['POST', '/api/jobs', { json: { name: 'hello-world', runAt: '9999-12-31T23:59:59Z' } }, 400, 'runAt'],
      ['GET', '/api/jobs?limit=0x10', {}, 400, 'limit'],
      ['GET', '/api/jobs?limit=1e2', {}, 400, 'limit'],
      ['GET', '/api/jobs/default/%ff', {}, 400, 'path'],
      ['POST', '/api/queues/default/retry', { json: { name: 'nope' } }, 400, 'name'],
      ['POST', '/api/queues/default/retry', { json: { name: 'sleep' } }, 400, 'name'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', on: 'finished' } }, 400, 'on'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', after: { queue: 'nope', id: '1' } } }, 400, 'after.queue'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', after: { queue: 'default', id: '1', extra: 1 } } }, 400, 'after.extra'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', after: { queue: 'default', id: '1' }, on: 'always' } }, 400, 'on'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', after: { queue: 'default', id: '1' }, delay: 5 } }, 400, 'delay'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', after: [] } }, 400, 'after'],
      ['POST', '/api/jobs', { json: { name: 'hello-world', after: [{ queue: 'default', id: 'x' }, { queue: 'nope', id: '1' }] } }, 400, 'after.1.queue'],
      ['POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 1, result: 'x'.repeat(3000) } } }, 413, 'body'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', cron: '61 * * * *' } }, 400, 'cron'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', cron: 'every monday' } }, 400, 'cron'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', cron: '* * * * *', every: 1000 } }, 400, 'every'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world' } }, 400, 'cron'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', every: 50 } }, 400, 'every'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', every: -1000 } }, 400, 'every'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', cron: '* * * * *', tz: 'Moon/Base' } }, 400, 'tz'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', every: 1000, tz: 'UTC' } }, 400, 'tz'],
      ['PUT', '/api/recurring/r1', { json: { name: 'hello-world', every: 1000, overlap: 'never' } }, 400, 'overlap'],
      ['PUT', '/api/recurring/r1', { json: { name: 'nope', every: 1000 } }, 400, 'name'],
      ['PUT', '/api/recurring/r1', { json: { name: 'fail', every: 1000, data: {} } }, 400, 'data.message'],
      ['PUT', '/api/recurring/r1', { raw: '{' }, 400, 'body'],
      ['PUT', '/api/recurring/bad%20id!', { json: { name: 'hello-world', every: 1000 } }, 400, 'id'],
      ['GET', '/api/jobs/nope/1', {}, 404],
      ['GET', '/api/jobs/default/does-not-exist', {}, 404],
      ['DELETE', '/api/recurring/never-was', {}, 404],
      ['POST', '/api/recurring/never-was/trigger', {}, 404],
      ['GET', '/api/nothing-here', {}, 404],
      ['PATCH', '/api/jobs', { json: {} }, 404],
      // A cursor of the right shape whose parts are not valid percent-encoding (was a 500: URIError).
      ['GET', `/api/jobs?cursor=${encodeURIComponent('1~%E0~x')}`, {}, 400, 'cursor'],
      ['GET', `/api/jobs?queue=default&cursor=${encodeURIComponent('1~default~%')}`, {}, 400, 'cursor'],
    ];
    for (const [method, path, opts, status, field] of cases) {
      const r = await call(method, path, opts);
      assertError(r, status, field);
      assert.doesNotMatch(r.body.error!, /Internal/);
    }
    assert.deepEqual(await client.recurring.list().then((l) => l.filter((s) => s.id === 'r1')), [], 'no bad schedule was written');
    assert.equal((await call('GET', '/api/recurring')).status, 200, 'still serving');
    assert.equal(api.proc.lines.filter((l) => l.msg === 'Unhandled error').length, 0, api.proc.output());
  });

  it('audits every mutation with actor api-token, action, target and result', async () => {
    const ok = await call('PUT', '/api/recurring/audited', { json: { name: 'hello-world', every: 60_000 } });
    await call('POST', '/api/recurring/audited/trigger');
    await call('DELETE', '/api/recurring/audited');
    await call('PUT', '/api/recurring/audited', { json: { name: 'hello-world', cron: 'nope' } });
    assert.equal(ok.status, 200);
    const entries = await waitFor(() => {
      const lines = auditLines(api.proc).filter((l) => l.schedule === 'audited');
      return lines.length >= 4 ? lines : undefined;
    }, 'four audit records');
    assert.deepEqual(
      entries.map((l) => [l.actor, l.action, l.result, l.status]),
      [
        ['api-token', 'recurring.upsert', 'ok', 200],
        ['api-token', 'recurring.trigger', 'ok', 202],
        ['api-token', 'recurring.remove', 'ok', 204],
        ['api-token', 'recurring.upsert', 'error', 400],
      ],
    );
    assert.match(String(entries[3]!.detail), /Invalid cron/);
    const actions = new Set(auditLines(api.proc).filter((l) => l.result === 'ok').map((l) => l.action));
    for (const a of ['job.enqueue', 'job.continue']) assert.ok(actions.has(a), `audited ${a}`);
    const enqueue = auditLines(api.proc).find((l) => l.action === 'job.enqueue' && l.result === 'ok');
    assert.ok(enqueue?.queue && enqueue.job, JSON.stringify(enqueue));
  });

  it('GET /api/openapi.json is an OpenAPI 3.1 document of every route, with the job catalog', async () => {
    const r = await call('GET', '/api/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.body as unknown as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { enum?: string[] }> };
    };
    assert.equal(doc.openapi, '3.1.0');
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    // A sample; test/openapi.test.ts checks the document against the router itself.
    for (const expected of [
      'DELETE /api/recurring/{id}',
      'GET /api/alerts',
      'GET /api/jobs/{queue}/{id}',
      'GET /api/openapi.json',
      'GET /api/recurring',
      'GET /api/recurring/{id}',
      'GET /api/recurring/{id}/runs',
      'POST /api/jobs',
      'POST /api/jobs/bulk',
      'POST /api/jobs/{queue}/{id}/retry',
      'POST /api/recurring/{id}/pause',
      'POST /api/recurring/{id}/resume',
      'POST /api/recurring/{id}/trigger',
      'PUT /api/recurring/{id}',
    ]) assert.ok(routes.includes(expected), expected);
    // Every documented route exists (is not the router's 404) and answers a status it documents.
    for (const route of routes) {
      const [method, template] = route.split(' ') as [string, string];
      // Queue operations on an unknown queue (404), so the probe pauses or cleans nothing.
      const path = template.replace('{queue}', template.startsWith('/api/queues/') ? 'nope' : 'default').replace('{id}', 'probe-id');
      const res = await call(method, path, method === 'PUT' || method === 'POST' ? { json: {} } : {});
      assert.doesNotMatch(String(res.body.error ?? ''), /No API route/, route);
      assert.ok(String(res.status) in doc.paths[template]![method.toLowerCase()]!.responses, `${route} answered ${res.status}, undocumented`);
    }
    assert.deepEqual(doc.components.schemas.JobName!.enum, Object.keys(jobs));
    for (const name of Object.keys(jobs)) assert.ok(doc.components.schemas[`Payload.${name}`], `payload schema of ${name}`);
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    for (const ref of refs) assert.ok(doc.components.schemas[ref.slice(22, -1)], `dangling ${ref}`);
  });

  it('without API_TOKEN the API is not served, and the server says so once at start', async () => {
    assertError(await call('GET', '/api/recurring', { base: tokenless.base }), 404);
    assertError(await call('POST', '/api/jobs', { base: tokenless.base, json: { name: 'hello-world' } }), 404);
    assert.equal(tokenless.proc.lines.filter((l) => /API_TOKEN is not set/.test(String(l.msg))).length, 1);
  });

  it('while Redis is down: 503 fast with Retry-After, and serving again once it is back', async () => {
    await downRedis.server.stop();
    const started = Date.now();
    const r = await waitFor(async () => {
      const res = await call('POST', '/api/jobs', { base: fragile.base, json: { name: 'hello-world' } });
      return res.status === 503 ? res : undefined;
    }, 'a 503', 10_000);
    assertError(r, 503);
    assert.equal(r.headers.get('retry-after'), '5');
    // The body matches what the OpenAPI document says a 503 is (outcome and jobId included).
    const doc = (await call('GET', '/api/openapi.json', { token: null })).body as unknown as OpenApiDoc;
    assertDocumented(doc, 'post', '/api/jobs', r);
    assert.equal(r.body.outcome, 'not-written');
    assert.equal(typeof r.body.jobId, 'string');
    const bulk = await call('POST', '/api/jobs/bulk', { base: fragile.base, json: { jobs: [{ name: 'hello-world' }] } });
    assertError(bulk, 503);
    assertDocumented(doc, 'post', '/api/jobs/bulk', bulk);
    const t = Date.now();
    assertError(await call('GET', '/api/recurring', { base: fragile.base }), 503);
    assert.ok(Date.now() - t < 2000, `answered in ${Date.now() - t} ms`);
    assertError(await call('POST', '/api/jobs', { base: fragile.base, json: { name: 'nope' } }), 400);
    await downRedis.restart();
    const back = await waitFor(async () => {
      const res = await call('POST', '/api/jobs', { base: fragile.base, json: { name: 'hello-world' } });
      return res.status === 201 ? res : undefined;
    }, 'enqueue to work again', 20_000);
    assert.equal(back.body.state, 'waiting');
    assert.ok(Date.now() - started < 30_000);
  });

  it('wrong tokens count against the failed-login limit (429 for that address only)', async () => {
    const from = '127.0.0.77';
    for (let i = 0; i < 2; i++) assert.equal((await http(`${fragile.base}/api/recurring`, { auth: 'bad-token-bad-token', from })).status, 401);
    const locked = await http(`${fragile.base}/api/recurring`, { auth: TOKEN, from });
    assert.equal(locked.status, 429, locked.text);
    assert.ok(locked.headers['retry-after']);
    assert.equal((await http(`${fragile.base}/api/recurring`, { auth: TOKEN })).status, 200, 'other addresses unaffected');
  });
});
