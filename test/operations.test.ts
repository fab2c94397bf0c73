import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditLines, startServer } from './board-support.js';
import { testClient, type TestClient } from './support/center.js';
import { runCli } from './support/cli.js';
import { ProcessGroup, waitFor, type CenterProcess } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Operations on existing jobs and queues from anywhere: over real HTTP with named, scoped tokens
 * (read / enqueue / admin), and with the spawned CLI, against a real server and a real worker
 * process (an active job is cancelled across processes). Bad input gets a 4xx naming the field.
 */

const ADMIN = 'admin-token-3f9a7c2e1b5d';
const READER = 'reader-token-8e4b2a9c7d1f';
const ENQUEUER = 'enqueue-token-5c1e9b3a7f2d';
const BOARD = { BOARD_USER: 'admin', BOARD_PASSWORD: 'admin-password-for-tests' };

let redis: TestRedis;
let env: Record<string, string>;
const group = new ProcessGroup({});
let server: { proc: CenterProcess; base: string };
let client: TestClient;

before(async () => {
  redis = await startTestRedis();
  env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix(),
    API_TOKENS: `ops-admin:admin:${ADMIN},dashboards:read:${READER},billing:enqueue:${ENQUEUER}`,
    ...BOARD,
  };
  const worker = group.start('worker', { ...env, WORKER_CONCURRENCY: '4' });
  [server] = await Promise.all([startServer(group, env), worker.waitForMessage('Worker started', 30_000)]);
  client = await testClient(env);
});
after(async () => {
  await group.stopAll();
  await client?.close();
  await redis?.stop();
});

interface Reply {
  status: number;
  body: Record<string, unknown> & { error?: string; details?: { field: string }[] };
}

async function call(method: string, path: string, opts: { json?: unknown; token?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? ADMIN}` };
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.base}${path}`, { method, headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

function assertError(r: Reply, status: number, field?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(typeof r.body.error, 'string');
  if (field) assert.ok(r.body.details?.some((d) => d.field === field), `expected a detail for ${field}: ${JSON.stringify(r.body)}`);
}

const stateOf = async (queue: string, id: string) => (await call('GET', `/api/jobs/${queue}/${encodeURIComponent(id)}`)).body.state;

const cli = (args: string[]) => runCli(args, env, { timeoutMs: 90_000 });

describe('operations from anywhere', () => {
  it('scoped tokens: read gets 403 on every write, enqueue may enqueue but not administer; the audit names the caller', async () => {
    const writes: [string, string, unknown?][] = [
      ['POST', '/api/jobs', { name: 'hello-world' }],
      ['PUT', '/api/recurring/scoped', { name: 'hello-world', every: 60_000 }],
      ['DELETE', '/api/recurring/scoped'],
      ['POST', '/api/recurring/scoped/trigger'],
      ['DELETE', '/api/jobs/default/1'],
      ['POST', '/api/jobs/default/1/retry'],
      ['POST', '/api/jobs/default/1/promote'],
      ['POST', '/api/queues/default/pause'],
      ['POST', '/api/queues/default/resume'],
      ['POST', '/api/queues/default/clean', { state: 'completed', olderThanMs: 0 }],
      ['POST', '/api/queues/default/retry', {}],
    ];
    for (const [method, path, json] of writes) assertError(await call(method, path, { json, token: READER }), 403, 'Authorization');
    for (const path of ['/api/jobs', '/api/queues', '/api/queues/default', '/api/recurring']) {
      assert.equal((await call('GET', path, { token: READER })).status, 200, path);
    }
    const enqueued = await call('POST', '/api/jobs', { json: { name: 'hello-world', delay: 60_000 }, token: ENQUEUER });
    assert.equal(enqueued.status, 201, JSON.stringify(enqueued.body));
    assertError(await call('POST', '/api/queues/default/pause', { token: ENQUEUER }), 403);
    assertError(await call('DELETE', `/api/jobs/default/${String(enqueued.body.id)}`, { token: ENQUEUER }), 403);
    assertError(await call('GET', '/api/jobs', { token: 'not-a-token-at-all-0000' }), 401);

    const lines = await waitFor(() => {
      const l = auditLines(server.proc);
      return l.some((x) => x.actor === 'billing' && x.action === 'job.enqueue' && x.result === 'ok') &&
        l.some((x) => x.actor === 'dashboards' && x.action === 'queue.pause' && x.result === 'denied' && x.status === 403)
        ? l
        : undefined;
    }, 'audit records naming billing and dashboards');
    assert.ok(lines.every((l) => l.actor !== 'api-token'), 'no anonymous shared name');
  });

  it('GET /api/jobs lists newest first with cursor pagination and filters; bad queries name the field', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: `n${i}` }, delay: 3_600_000 } });
      ids.push(String(r.body.id));
      await new Promise((r) => setTimeout(r, 3)); // distinct creation times
    }
    await call('POST', '/api/jobs', { json: { name: 'hello-world', delay: 3_600_000 } });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/api/jobs?queue=default&state=delayed&name=scheduler-test&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await call('GET', q, { token: READER });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      const jobs = page.body.jobs as { id: string; name: string; state: string; createdAt: string }[];
      assert.ok(jobs.length <= 3);
      for (const j of jobs) assert.equal(j.name, 'scheduler-test');
      seen.push(...jobs.map((j) => j.id));
      cursor = page.body.nextCursor as string | null;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse(), 'newest first, each once');
    const from = new Date(Date.now() - 60_000).toISOString();
    const recent = await call('GET', `/api/jobs?from=${encodeURIComponent(from)}&limit=500`);
    assert.ok((recent.body.jobs as unknown[]).length >= 8);
    const future = await call('GET', `/api/jobs?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    assert.deepEqual(future.body.jobs, []);

    assertError(await call('GET', '/api/jobs?state=sleeping'), 400, 'state');
    assertError(await call('GET', '/api/jobs?limit=0'), 400, 'limit');
    assertError(await call('GET', '/api/jobs?limit=many'), 400, 'limit');
    assertError(await call('GET', '/api/jobs?from=yesterday'), 400, 'from');
    assertError(await call('GET', `/api/jobs?from=${encodeURIComponent(from)}&to=${encodeURIComponent(from)}`), 400, 'to');
    assertError(await call('GET', '/api/jobs?cursor=garbage'), 400, 'cursor');
    assertError(await call('GET', '/api/jobs?colour=red'), 400, 'colour');
    assertError(await call('GET', '/api/jobs?queue=nope'), 404);
  });

  it("a handler's ctx.log lines are the job's log lines", async () => {
    const r = await call('POST', '/api/jobs', { json: { name: 'hello-world' } });
    const id = String(r.body.id);
    await waitFor(async () => (await stateOf('default', id)) === 'completed', 'hello-world to complete');
    const logs = await call('GET', `/api/jobs/default/${id}/logs`, { token: READER });
    assert.equal(logs.status, 200, JSON.stringify(logs.body));
    assert.equal(logs.body.total, 1);
    assert.match(String((logs.body.lines as string[])[0]), /^INFO Hello World! The time is/);
    assertError(await call('GET', `/api/jobs/default/${id}/logs?start=-1`), 400, 'start');
    assertError(await call('GET', `/api/jobs/default/${id}/logs?limit=5000`), 400, 'limit');
    assertError(await call('GET', '/api/jobs/default/never-was/logs'), 404);
  });

  it('cancel: a delayed job is removed, an awaiting continuation withdrawn, an active job aborted and failed "Cancelled by <caller>"', async () => {
    const delayed = await call('POST', '/api/jobs', { json: { name: 'hello-world', delay: 3_600_000 } });
    const removed = await call('DELETE', `/api/jobs/default/${String(delayed.body.id)}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.outcome, 'removed');
    assertError(await call('GET', `/api/jobs/default/${String(delayed.body.id)}`), 404);

    const parent = await call('POST', '/api/jobs', { json: { name: 'hello-world', delay: 3_600_000 } });
    const cont = await call('POST', '/api/jobs', { json: { name: 'hello-world', after: { queue: 'default', id: parent.body.id } } });
    assert.equal(cont.body.state, 'awaiting');
    const withdrawn = await call('DELETE', `/api/jobs/default/${String(cont.body.id)}`);
    assert.equal(withdrawn.body.outcome, 'cancelled', JSON.stringify(withdrawn.body));
    await call('POST', `/api/jobs/default/${String(parent.body.id)}/promote`);
    await waitFor(async () => (await stateOf('default', String(parent.body.id))) === 'completed', 'the parent to complete');
    await new Promise((r) => setTimeout(r, 300));
    assertError(await call('GET', `/api/jobs/default/${String(cont.body.id)}`), 404);

    const long = await call('POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 600_000 } } });
    const id = String(long.body.id);
    await waitFor(async () => (await stateOf('batch', id)) === 'active', 'the sleep job to start');
    const cancelled = await call('DELETE', `/api/jobs/batch/${id}`);
    assert.ok([200, 202].includes(cancelled.status), JSON.stringify(cancelled.body));
    const failed = await waitFor(async () => {
      const j = (await call('GET', `/api/jobs/batch/${id}`)).body;
      return j.state === 'failed' ? j : undefined;
    }, 'the cancelled job to fail');
    assert.equal(failed.failedReason, 'Cancelled by ops-admin');
    assert.equal(failed.attemptsMade, 1, 'not retried');
    assertError(await call('DELETE', '/api/jobs/batch/never-was'), 404);
    assertError(await call('DELETE', '/api/jobs/nope/1'), 404);
  });

  it('promote, retry one and retry all failed (of one name), pause/resume, clean and summary', async () => {
    const later = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', delay: 3_600_000 } });
    const promoted = await call('POST', `/api/jobs/default/${String(later.body.id)}/promote`);
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assertError(await call('POST', `/api/jobs/default/${String(later.body.id)}/promote`), 409);

    const failing = await Promise.all([1, 2, 3].map((i) => call('POST', '/api/jobs', { json: { name: 'fail', data: { message: `boom ${i}`, times: 1 }, attempts: 1 } })));
    await waitFor(async () => {
      const states = await Promise.all(failing.map((f) => stateOf('default', String(f.body.id))));
      return states.every((s) => s === 'failed');
    }, 'three failures');
    assertError(await call('POST', '/api/queues/default/retry', { json: { name: 42 } }), 400, 'name');
    const none = await call('POST', '/api/queues/default/retry', { json: { name: 'hello-world' } });
    assert.deepEqual(none.body, { queue: 'default', retried: 0 });
    const all = await call('POST', '/api/queues/default/retry', { json: { name: 'fail' } });
    assert.equal(all.status, 202);
    assert.equal(all.body.retried, 3);
    await waitFor(async () => {
      const states = await Promise.all(failing.map((f) => stateOf('default', String(f.body.id))));
      return states.every((s) => s === 'completed');
    }, 'the retried jobs to complete');

    const paused = await call('POST', '/api/queues/batch/pause');
    assert.deepEqual(paused.body, { name: 'batch', paused: true });
    const idle = await call('POST', '/api/jobs', { json: { name: 'sleep', data: { ms: 1 } } });
    const summary = await call('GET', '/api/queues/batch', { token: READER });
    assert.equal(summary.body.paused, true);
    assert.ok(Number(summary.body.workers) >= 1, JSON.stringify(summary.body));
    assert.ok((summary.body.counts as Record<string, number>).waiting! >= 1);
    assert.equal(typeof summary.body.oldestWaitingAgeMs, 'number');
    assert.equal(await stateOf('batch', String(idle.body.id)), 'waiting');
    assert.deepEqual((await call('POST', '/api/queues/batch/resume')).body, { name: 'batch', paused: false });
    await waitFor(async () => (await stateOf('batch', String(idle.body.id))) === 'completed', 'the job to run after resume');

    const clean = await call('POST', '/api/queues/default/clean', { json: { state: 'completed', olderThanMs: 0 } });
    assert.equal(clean.status, 200, JSON.stringify(clean.body));
    assert.ok(Number(clean.body.removed) >= 3);
    assertError(await call('POST', '/api/queues/default/clean', { json: { state: 'everything', olderThanMs: 0 } }), 400, 'state');
    assertError(await call('POST', '/api/queues/default/clean', { json: { state: 'failed', olderThanMs: -1 } }), 400, 'olderThanMs');
    assertError(await call('POST', '/api/queues/default/clean', { json: { state: 'failed' } }), 400, 'olderThanMs');
    assertError(await call('POST', '/api/queues/nope/pause'), 404);
    const list = await call('GET', '/api/queues');
    assert.deepEqual((list.body as unknown as { name: string }[]).map((q) => q.name).sort(), ['batch', 'default']);
  });

  it('retry all failed of one name retries each failed job once, even one that fails again at once', async () => {
    // It paged through the failed set while retrying: a job the worker failed again before the next
    // page was read was retried again (and counted again), for as long as the worker kept up.
    const failedOfName = async () =>
      ((await call('GET', '/api/jobs?queue=default&state=failed&name=fail&limit=500')).body.jobs as { id: string }[]).length;
    const failing = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call('POST', '/api/jobs', { json: { name: 'fail', data: { message: `always ${i}` }, attempts: 1 } })),
    );
    const ids = failing.map((f) => String(f.body.id));
    const attempts = async () => Promise.all(ids.map(async (id) => (await call('GET', `/api/jobs/default/${id}`)).body));
    const settle = (n: number) =>
      waitFor(async () => (await attempts()).every((j) => j.state === 'failed' && j.attemptsMade === n), `every job failed after ${n} attempts`);
    await settle(1);
    for (let round = 1; round <= 3; round++) {
      const standing = await failedOfName();
      const all = await call('POST', '/api/queues/default/retry', { json: { name: 'fail' } });
      assert.equal(all.status, 202, JSON.stringify(all.body));
      assert.equal(all.body.retried, standing, `round ${round}: one retry per failed job`);
      await new Promise((r) => setTimeout(r, 300));
      await settle(round + 1);
    }
  });

  it('dedupe: drop keeps the job that stands, replace keeps only the latest (debounce); bad dedupe names the field', async () => {
    const first = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: 'a' }, delay: 60_000, dedupe: { key: 'invoice-9' } } });
    const second = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: 'b' }, delay: 60_000, dedupe: { key: 'invoice-9' } } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.deduplicated, true);
    assert.equal(second.body.id, first.body.id, 'the id of the job that stands');

    const d1 = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: 'v1' }, dedupe: { key: 'search-index', ttlMs: 60_000, mode: 'replace' } } });
    const d2 = await call('POST', '/api/jobs', { json: { name: 'scheduler-test', data: { note: 'v2' }, dedupe: { key: 'search-index', ttlMs: 60_000, mode: 'replace' } } });
    assert.equal(d1.body.state, 'delayed', 'debounced: waits out its window');
    assert.notEqual(d2.body.id, d1.body.id);
    assertError(await call('GET', `/api/jobs/default/${String(d1.body.id)}`), 404);
    const standing = await call('GET', `/api/jobs/default/${String(d2.body.id)}`);
    assert.deepEqual(standing.body.data, { note: 'v2' });

    assertError(await call('POST', '/api/jobs', { json: { name: 'hello-world', dedupe: { key: 'x', mode: 'replace' } } }), 400, 'dedupe.ttlMs');
    assertError(await call('POST', '/api/jobs', { json: { name: 'hello-world', dedupe: { key: 'x', mode: 'sometimes' } } }), 400, 'dedupe.mode');
    assertError(await call('POST', '/api/jobs', { json: { name: 'hello-world', dedupe: { key: '' } } }), 400, 'dedupe.key');
    assertError(await call('POST', '/api/jobs', { json: { name: 'hello-world', dedupe: { key: 'x' }, jobId: 'y' } }), 400, 'dedupe');
  });

  it('the CLI does the same operations, with exit 2 naming the field on bad input', async () => {
    const delayed = await client.enqueue('hello-world', {}, { delay: 3_600_000 });
    const other = await client.enqueue('hello-world', {}, { delay: 3_600_000 });
    const [list, summary, badList, badClean, promote, cancel, dedupe, badDedupe] = await Promise.all([
      cli(['job', 'list', '--queue', 'default', '--state', 'delayed', '--limit', '2']),
      cli(['queue', 'summary', 'default']),
      cli(['job', 'list', '--state', 'sleeping']),
      cli(['queue', 'clean', 'default', '--state', 'everything', '--older-than', '1h']),
      cli(['job', 'promote', `default/${delayed.id}`]),
      cli(['job', 'cancel', `default/${other.id}`]),
      cli(['enqueue', 'hello-world', '--dedupe-key', 'cli-once', '--dedupe-ttl', '1m']),
      cli(['enqueue', 'hello-world', '--dedupe-key', 'x', '--dedupe-mode', 'replace']),
    ]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal((JSON.parse(list.stdout) as { jobs: unknown[] }).jobs.length, 2);
    assert.equal(summary.code, 0, summary.stderr);
    assert.equal(JSON.parse(summary.stdout).name, 'default');
    assert.equal(badList.code, 2);
    assert.match(badList.stderr, /state: must be one of/);
    assert.equal(badClean.code, 2);
    assert.match(badClean.stderr, /state: must be one of/);
    assert.equal(promote.code, 0, promote.stderr);
    assert.notEqual(JSON.parse(promote.stdout).state, 'delayed', 'promoted: waiting, or already running');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(JSON.parse(cancel.stdout).outcome, 'removed');
    assert.equal(dedupe.code, 0, dedupe.stderr);
    assert.equal(badDedupe.code, 2);
    assert.match(badDedupe.stderr, /dedupe\.ttlMs/);
    const [again, pause, resume, logs, missing] = await Promise.all([
      cli(['enqueue', 'hello-world', '--dedupe-key', 'cli-once', '--dedupe-ttl', '1m']),
      cli(['queue', 'pause', 'default']),
      cli(['queue', 'resume', 'batch']),
      cli(['job', 'logs', `default/${delayed.id}`, '--limit', '0']),
      cli(['job', 'cancel', 'default/never-was']),
    ]);
    assert.equal(JSON.parse(again.stdout).deduplicated, true);
    assert.equal(JSON.parse(again.stdout).id, JSON.parse(dedupe.stdout).id);
    assert.equal(JSON.parse(pause.stdout).paused, true);
    assert.equal(await client.queues.get('default').isPaused(), true);
    assert.equal(JSON.parse(resume.stdout).paused, false);
    assert.equal(logs.code, 2);
    assert.match(logs.stderr, /limit/);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No job default\/never-was/);
    await client.resumeQueue('default');
  });
});
