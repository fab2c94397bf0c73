import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ValidationError } from '../src/errors.js';
import { startServer } from './board-support.js';
import { testClient, type TestClient } from './support/center.js';
import { runCli } from './support/cli.js';
import { ProcessGroup } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Bulk enqueue, all or nothing, through the three doors: `client.enqueueMany`, `POST /api/jobs/bulk`
 * over real HTTP (a server process) and `job-center enqueue --file` (a spawned CLI, file and stdin).
 */

const TOKEN = 'bulk-test-api-token-0123456789';
let redis: TestRedis;
let client: TestClient;
let env: Record<string, string>;
let base: string;
const group = new ProcessGroup({});
const dir = mkdtempSync(join(tmpdir(), 'jc-bulk-'));

before(async () => {
  redis = await startTestRedis({ appendonly: false });
  env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), API_TOKEN: TOKEN, BOARD_USER: 'admin', BOARD_PASSWORD: 'bulk-board-password-for-tests' };
  [client, { base }] = await Promise.all([testClient(env), startServer(group, env)]);
});
after(async () => {
  await group.stopAll();
  await client?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function waitingCount(): Promise<number> {
  const counts = await Promise.all(client.queues.all().map((q) => q.getJobCountByTypes('waiting', 'delayed', 'prioritized')));
  return counts.reduce((a, b) => a + b, 0);
}

async function post(body: unknown): Promise<{ status: number; body: Record<string, unknown> & { details?: { field: string }[] } }> {
  const res = await fetch(`${base}/api/jobs/bulk`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const cli = (args: string[], input?: string) => runCli(args, env, input !== undefined ? { input } : {});

describe('bulk enqueue', () => {
  it('client.enqueueMany adds every job across queues, in order, and reports duplicates', async () => {
    const before = await waitingCount();
    const created = await client.enqueueMany([
      { name: 'sleep', data: { ms: 1 } },
      { name: 'hello-world', data: {}, opts: { jobId: 'bulk-k1' } },
      { name: 'sleep', data: { ms: 2 }, opts: { delay: 60_000 } },
    ]);
    assert.deepEqual(created.map((c) => [c.queue, c.name, c.state]), [
      ['batch', 'sleep', 'waiting'],
      ['default', 'hello-world', 'waiting'],
      ['batch', 'sleep', 'delayed'],
    ]);
    assert.equal(created[1]!.id, 'bulk-k1');
    assert.equal(await waitingCount(), before + 3);
    const again = await client.enqueueMany([{ name: 'hello-world', data: {}, opts: { jobId: 'bulk-k1' } }]);
    assert.equal(again[0]!.duplicate, true);
    assert.equal(await waitingCount(), before + 3);
  });

  it('client.enqueueMany: one invalid job, nothing written, every problem named per item', async () => {
    const before = await waitingCount();
    await assert.rejects(
      // @ts-expect-error a wrong payload and an unknown name, on purpose: the run-time check is under test
      () => client.enqueueMany([{ name: 'sleep', data: { ms: 1 } }, { name: 'sleep', data: { ms: 'x' } }, { name: 'nope', data: {} }]),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        const fields = err.details.map((d) => d.field);
        assert.ok(fields.includes('jobs.1.data.ms'), JSON.stringify(err.details));
        assert.ok(fields.includes('jobs.2.name'), JSON.stringify(err.details));
        assert.match(err.message, /2 of 3 jobs are invalid; nothing was enqueued/);
        return true;
      },
    );
    assert.equal(await waitingCount(), before);
  });

  it('POST /api/jobs/bulk: 201 with every job; 400 naming jobs.<i>.<field> and nothing written; 413 above 1000', async () => {
    const before = await waitingCount();
    const ok = await post({ jobs: [{ name: 'sleep', data: { ms: 1 } }, { name: 'hello-world', jobId: 'bulk-http-1', runAt: new Date(Date.now() + 60_000).toISOString() }] });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const jobs = ok.body.jobs as { id: string; state: string }[];
    assert.deepEqual(jobs.map((j) => j.state), ['waiting', 'delayed']);
    assert.equal(jobs[1]!.id, 'bulk-http-1');
    assert.equal(await waitingCount(), before + 2);

    const bad = await post({ jobs: [{ name: 'sleep', data: { ms: 1 } }, { name: 'sleep', data: { ms: -5 } }, { name: 'sleep', delay: -1 }] });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const fields = (bad.body.details ?? []).map((d) => d.field);
    assert.ok(fields.some((f) => f.startsWith('jobs.2.delay')), JSON.stringify(bad.body));
    const payload = await post({ jobs: [{ name: 'sleep', data: { ms: 1 } }, { name: 'sleep', data: { ms: 'slow' } }] });
    assert.equal(payload.status, 400, JSON.stringify(payload.body));
    assert.deepEqual((payload.body.details ?? []).map((d) => d.field), ['jobs.1.data.ms']);
    assert.equal(await waitingCount(), before + 2, 'nothing of a rejected request was written');

    const big = await post({ jobs: Array.from({ length: 1001 }, () => ({ name: 'sleep', data: { ms: 0 } })) });
    assert.equal(big.status, 413, JSON.stringify(big.body).slice(0, 300));
    assert.match(String(big.body.error), /at most 1000/);
    const empty = await post({ jobs: [] });
    assert.equal(empty.status, 400);
    assert.equal(await waitingCount(), before + 2);
  });

  it('job-center enqueue --file (and stdin): all lines or none, problems named by line', async () => {
    const before = await waitingCount();
    const file = join(dir, 'jobs.ndjson');
    writeFileSync(file, '{"name":"sleep","data":{"ms":1}}\n\n{"name":"hello-world","jobId":"cli-bulk-1"}\n');
    const [fromFile, fromStdin, badLine, badPayload, badBoth] = await Promise.all([
      cli(['enqueue', '--file', file]),
      cli(['enqueue', '--file', '-'], '{"name":"sleep","data":{"ms":2}}\n'),
      cli(['enqueue', '--file', '-'], '{"name":"sleep"}\nnot json\n'),
      cli(['enqueue', '--file', '-'], '{"name":"sleep","data":{"ms":1}}\n{"name":"sleep","data":{"ms":"x"}}\n'),
      cli(['enqueue', '--file', '-'], '{"name":"nope"}\n{"name":"sleep","data":{"ms":1},"jobId":"42"}\n'),
    ]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const out = JSON.parse(fromFile.stdout) as { count: number; jobs: { id: string }[] };
    assert.equal(out.count, 2);
    assert.equal(out.jobs[1]!.id, 'cli-bulk-1');
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(badLine.code, 2, badLine.stderr);
    assert.match(badLine.stderr, /line 2: not JSON/);
    assert.equal(badPayload.code, 2, badPayload.stderr);
    assert.match(badPayload.stderr, /line 2: data\.ms/);
    // Every bad line in one run: an unknown name showed up only once the options of all lines were right.
    assert.equal(badBoth.code, 2, badBoth.stderr);
    assert.match(badBoth.stderr, /line 1: .*name/);
    assert.match(badBoth.stderr, /line 2: .*jobId/);
    // Per-job options beside --file were dropped without a word (enqueued with no shard key, no dedupe).
    const flags = await Promise.all([
      cli(['enqueue', '--file', file, '--shard-key', 'k1']),
      cli(['enqueue', '--file', file, '--dedupe-key', 'd1']),
      cli(['enqueue', '--file', file, '--dedupe-key', 'd1', '--dedupe-ttl', '1m', '--dedupe-mode', 'drop']),
    ]);
    for (const run of flags) {
      assert.equal(run.code, 2, run.stdout + run.stderr);
      assert.match(run.stderr, /--file takes every job .*drop --(shard-key|dedupe-key)/);
    }
    assert.equal(await waitingCount(), before + 3, 'the rejected files wrote nothing');
  });
});
