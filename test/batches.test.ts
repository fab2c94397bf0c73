import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startServer } from './board-support.js';
import { testClient, type TestClient } from './support/center.js';
import { ProcessGroup, waitFor, type CenterProcess } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Batches (fan-in) against a real server and real worker processes: progress over HTTP, `on`
 * semantics, bad input naming the field, and a batch of 500 whose worker is SIGKILLed midway: its
 * `then` job still runs, exactly once.
 */

const TOKEN = 'batch-test-token-7a3c9e1f';
let redis: TestRedis;
let env: Record<string, string>;
const group = new ProcessGroup({});
let server: { proc: CenterProcess; base: string };
let client: TestClient;
let workers: CenterProcess[];

before(async () => {
  redis = await startTestRedis();
  env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix(),
    API_TOKEN: TOKEN,
    BOARD_USER: 'admin',
    BOARD_PASSWORD: 'admin-password-for-tests',
    // A killed worker's jobs come back within about a second; batches are swept often.
    WORKER_LOCK_DURATION_MS: '1000',
    WORKER_STALLED_INTERVAL_MS: '500',
    CONTINUATION_SWEEP_MS: '500',
    WORKER_CONCURRENCY: '10',
  };
  // One at a time: on a loaded machine, three processes compiling at once start slowly.
  server = await startServer(group, env);
  workers = [group.start('worker', env), group.start('worker', env)];
  await Promise.all(workers.map((w) => w.waitForMessage('Worker started', 60_000)));
  client = await testClient(env);
});
after(async () => {
  await group.stopAll();
  await client?.close();
  await redis?.stop();
});

async function call(method: string, path: string, json?: unknown) {
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { details?: { field: string }[] } };
}

describe('batches', () => {
  it('POST /api/batches: then runs after all on finished, is cancelled on success when one failed; bad input names the field', async () => {
    const jobs = [
      { name: 'sleep', data: { ms: 10 } },
      { name: 'fail', data: { message: 'one fails' }, attempts: 1 },
    ];
    const finished = await call('POST', '/api/batches', { jobs, then: { name: 'scheduler-test', data: { note: 'after all' } }, on: 'finished' });
    const success = await call('POST', '/api/batches', { jobs, then: { name: 'scheduler-test', data: { note: 'never' } } });
    assert.equal(finished.status, 201, JSON.stringify(finished.body));
    assert.equal((finished.body.jobs as unknown[]).length, 2);
    const done = await waitFor(async () => {
      const s = (await call('GET', `/api/batches/${String(finished.body.id)}`)).body;
      return (s.then as { state: string }).state === 'completed' ? s : undefined;
    }, 'then of the finished batch to complete', 30_000);
    assert.deepEqual([done.total, done.completed, done.failed, done.pending], [2, 1, 1, 0]);
    const cancelled = await waitFor(async () => {
      const s = (await call('GET', `/api/batches/${String(success.body.id)}`)).body;
      return (s.then as { state: string }).state === 'cancelled' ? s : undefined;
    }, 'then of the success batch to be cancelled', 30_000);
    assert.equal(cancelled.failed, 1);

    const bad: [unknown, string][] = [
      [{ jobs: [] }, 'jobs'],
      [{ jobs: [{ name: 'sleep', data: { ms: 1 }, jobId: 'mine' }] }, 'jobs.0.jobId'],
      [{ jobs: [{ name: 'sleep', data: { ms: 'x' } }] }, 'jobs.0.data.ms'],
      [{ jobs: [{ name: 'sleep', data: { ms: 1 } }], on: 'finished' }, 'on'],
      [{ jobs: [{ name: 'sleep', data: { ms: 1 } }], then: { name: 'nope' } }, 'then.name'],
    ];
    for (const [body, field] of bad) {
      const r = await call('POST', '/api/batches', body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.ok(r.body.details?.some((d) => d.field === field), `${field}: ${JSON.stringify(r.body)}`);
    }
    assert.equal((await call('GET', '/api/batches/not-a-batch')).status, 404, 'a well-formed id (a batch or a join) that names nothing');
    assert.equal((await call('GET', '/api/batches/a:b')).status, 400);
    assert.equal((await call('GET', '/api/batches/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  it('a batch with an id is created once: the same request again adds only its missing jobs, never a finished one; another request with that id is a 409', async () => {
    const id = randomUUID();
    const jobs = ['a', 'b', 'c'].map((result) => ({ name: 'sleep', data: { ms: 10, result } }));
    const request = { id, jobs, then: { name: 'scheduler-test', data: { note: `retry ${id}` } } };
    const queue = client.queues.get('batch');
    await queue.pause();
    let ids: string[];
    try {
      const first = await call('POST', '/api/batches', request);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.id, id);
      ids = (first.body.jobs as { id: string }[]).map((j) => j.id);
      // As if the first call had been cut off after writing the batch and two of its jobs.
      await (await queue.getJob(ids[1]!))!.remove();
      // The same request, its keys in another order.
      const again = await call('POST', '/api/batches', { then: request.then, jobs: jobs.map(({ name, data }) => ({ data, name })), id });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.duplicate, true);
      assert.deepEqual((again.body.jobs as { id: string }[]).map((j) => j.id), ids);
      assert.ok(await queue.getJob(ids[1]!), 'the missing job was added');
      assert.equal((await queue.getJobs(['waiting'])).filter((j) => j.id?.includes(id)).length, 3, 'and nothing twice');
      const other = await call('POST', '/api/batches', { ...request, jobs: jobs.slice(0, 2) });
      assert.equal(other.status, 409, JSON.stringify(other.body));
      assert.match(String(other.body.error), /exists for other jobs/);
      assert.equal((await call('POST', '/api/batches', { ...request, id: 'not-a-uuid' })).status, 400);
    } finally {
      await queue.resume();
    }
    const done = await waitFor(async () => {
      const s = await client.getBatch(id);
      return s?.then?.state === 'completed' ? s : undefined;
    }, 'the then job to complete', 30_000);
    assert.deepEqual([done.total, done.completed, done.failed], [3, 3, 0]);
    // A finished job that retention removed is not added again by a late retry.
    await (await queue.getJob(ids[0]!))!.remove();
    const late = await call('POST', '/api/batches', request);
    assert.equal(late.status, 200, JSON.stringify(late.body));
    assert.equal((late.body.jobs as { state: string }[])[0]!.state, 'removed');
    assert.equal(await queue.getJob(ids[0]!), undefined);
    const thens = (await client.queues.get('default').getJobs(['completed', 'waiting', 'active', 'delayed'])).filter((j) => (j.data as { note?: string }).note === `retry ${id}`);
    assert.equal(thens.length, 1, 'then ran once');
  });

  it('a batch of 500 with a worker SIGKILLed midway runs its then job exactly once', async () => {
    const jobs = Array.from({ length: 500 }, (_, i) => ({ name: 'sleep' as const, data: { ms: 20, result: i } }));
    const batch = await client.batch(jobs, { then: { name: 'scheduler-test', data: { note: 'report' } } });
    await waitFor(async () => ((await client.getBatch(batch.id))?.completed ?? 0) >= 150, '150 jobs done', 60_000);
    workers[0]!.kill('SIGKILL');
    const status = await waitFor(async () => {
      const s = await client.getBatch(batch.id);
      return s?.then?.state === 'completed' ? s : undefined;
    }, 'the then job to complete', 120_000, 200);
    assert.deepEqual([status.total, status.completed, status.failed, status.pending], [500, 500, 0, 0]);
    // Exactly once: one job named scheduler-test exists, it ran one attempt, and logged one line.
    const thens = (await client.queues.get('default').getJobs(['completed', 'waiting', 'active', 'delayed', 'failed'])).filter((j) => j.name === 'scheduler-test' && (j.data as { note?: string }).note === 'report');
    assert.equal(thens.length, 1);
    assert.equal(thens[0]!.attemptsMade, 1);
    assert.equal((await client.jobLogs({ queue: 'default', id: String(thens[0]!.id) })).total, 1);
    const after = await client.getBatch(batch.id);
    assert.equal(after?.then?.state, 'completed');
  });
});
