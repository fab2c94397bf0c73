import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { JobCenterClient } from '../src/client.js';
import { UnavailableError } from '../src/errors.js';
import { freePort } from '../src/redis/redis-server.js';
import { testClient } from './support/center.js';
import { runCli } from './support/cli.js';
import { ProcessGroup, waitFor } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Redis SIGKILLed under concurrent enqueue load over real HTTP. A request in flight when Redis
 * dies may or may not have been written; the 503 must say so and hand back the idempotency key,
 * and a retry with that key must never add the job twice. `appendfsync always` so that what Redis
 * acknowledged survives the SIGKILL (the test is about the center, not about fsync policy).
 */

const TOKEN = 'unknown-outcome-token-7Hq2mXv9';
let redis: TestRedis;
let group: ProcessGroup;
let client: JobCenterClient;

before(async () => {
  redis = await startTestRedis({ appendonly: true, args: ['--appendfsync', 'always'] });
});
after(async () => {
  await group?.stopAll();
  await client?.close();
  await redis.stop();
});

interface Answer {
  status: number;
  body: { id?: string; jobId?: string; duplicate?: boolean; error?: string; outcome?: string };
}

describe('enqueue while Redis dies', () => {
  it('every 503 says whether the outcome is known and returns the jobId; retrying with it adds each job exactly once', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), PORT: String(port), API_TOKEN: TOKEN, BOARD_USER: 'admin', BOARD_PASSWORD: 'unknown-outcome-pw-81c' };
    group = new ProcessGroup(env);
    const server = group.start('server');
    await server.waitForMessage('Server listening', 60_000); // a loaded CI machine starts tsx slowly
    client = await testClient(env);
    const base = `http://127.0.0.1:${port}`;

    const post = async (body: Record<string, unknown>): Promise<Answer> => {
      const res = await fetch(`${base}/api/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
      return { status: res.status, body: (await res.json()) as Answer['body'] };
    };

    // Half the requests bring their own key, half let the server generate one.
    const TOTAL = 600;
    const requests = Array.from({ length: TOTAL }, (_, i) => ({
      i,
      body: { name: 'sleep', data: { ms: 1, result: i }, ...(i % 2 === 0 ? { jobId: `load-${i}` } : {}) },
    }));
    const first: Answer[] = new Array(TOTAL);
    let next = 0;
    let answered = 0;
    let killed: Promise<void> | undefined;
    const loop = async () => {
      while (next < TOTAL) {
        const r = requests[next++]!;
        first[r.i] = await post(r.body);
        answered++;
        if (answered === 150 && !killed) {
          killed = (async () => {
            redis.server.process.kill('SIGKILL');
            await redis.restart(300);
          })();
        }
      }
    };
    await Promise.all(Array.from({ length: 24 }, loop));
    await killed;

    const unavailable = first.filter((a) => a.status === 503);
    assert.ok(unavailable.length > 0, 'some requests met the dead Redis');
    for (const a of first) {
      assert.ok([201, 503].includes(a.status), `only 201 or 503: ${JSON.stringify(a)}`);
      if (a.status === 201) assert.ok(a.body.id, 'a created job has an id');
    }
    for (const a of unavailable) {
      assert.ok(a.body.jobId, `the 503 returns the idempotency key: ${JSON.stringify(a.body)}`);
      assert.ok(['unknown', 'not-written'].includes(a.body.outcome ?? ''), JSON.stringify(a.body));
      if (a.body.outcome === 'unknown') assert.match(a.body.error ?? '', /outcome is unknown.*retry with the same jobId/);
      else assert.match(a.body.error ?? '', /nothing was written/);
    }
    requests.forEach((r, i) => {
      if (r.body.jobId !== undefined && first[i]!.status === 503) assert.equal(first[i]!.body.jobId, r.body.jobId, 'the caller key is kept');
    });

    // Retry every non-201 with the key it was given until it is accepted.
    await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, 'the server sees Redis again', 30_000);
    const ids = new Map<number, string>();
    let duplicates = 0;
    for (const r of requests) {
      const a = first[r.i]!;
      if (a.status === 201) {
        ids.set(r.i, a.body.id!);
        continue;
      }
      const retried = await waitFor(async () => {
        const again = await post({ ...r.body, jobId: a.body.jobId });
        return again.status === 201 || again.status === 200 ? again : undefined;
      }, `retry of request ${r.i}`, 30_000, 200);
      assert.equal(retried.body.id, a.body.jobId);
      if (retried.status === 200) {
        assert.equal(retried.body.duplicate, true);
        duplicates++;
      }
      ids.set(r.i, retried.body.id!);
    }

    // Every accepted job exists exactly once with its own payload; nothing else was added.
    assert.equal(new Set(ids.values()).size, TOTAL, 'one key per request');
    const counts = await client.bullQueues().find((q) => q.name === 'batch')!.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized');
    const stored = Object.values(counts).reduce((a, b) => a + b, 0);
    assert.equal(stored, TOTAL, `jobs in the queue: ${JSON.stringify(counts)} (${duplicates} retries found their job already written)`);
    for (const [i, id] of ids) {
      const job = await client.getJob({ queue: 'batch', id });
      assert.deepEqual(job?.data, { ms: 1, result: i }, `job ${id}`);
    }
    assert.ok(server.running, server.output());
    const unknown = unavailable.filter((a) => a.body.outcome === 'unknown').length;
    process.stdout.write(`# ${unavailable.length} answers 503 (${unknown} outcome unknown), ${duplicates} retries found the job already written\n`);
  });

  it('the client says "nothing was written" only when Redis was down before the call', async () => {
    await redis.server.stop();
    const err = await waitFor(async (): Promise<UnavailableError | undefined> => {
      try {
        await client.enqueue('sleep', { ms: 1 }, { jobId: 'down-before' });
        return undefined;
      } catch (e) {
        return e instanceof UnavailableError && e.outcome === 'not-written' ? e : undefined;
      }
    }, 'a not-written refusal', 10_000);
    assert.equal(err.jobId, 'down-before');
    assert.match(err.message, /nothing was written; retry with the same jobId "down-before"/);
    await redis.restart();
  });

  it('cut off mid-call, the CLI prints the generated jobIds to retry with, and queue and job operations say the outcome is unknown', async () => {
    const env = { REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix() };
    const ops = await testClient(env);
    try {
      const parent = await ops.schedule('sleep', { ms: 1 }, { delay: 60_000 });
      // The CLI, under a prefix of its own, reads its jobs from stdin: it connects and sets up its
      // queues (BullMQ writes each queue's meta as it connects) while the test waits, and gets its
      // jobs once writes are paused. Paused before it had set up, its first read waited behind
      // that setup, and it reported Redis unreachable instead of its cut-off enqueue.
      const cliEnv = { ...env, QUEUE_PREFIX: uniquePrefix() };
      let sendJobs!: (text: string) => void;
      const run = runCli(['enqueue', '--file', '-'], cliEnv, { input: new Promise<string>((r) => (sendJobs = r)) });
      const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
      admin.on('error', () => {});
      await waitFor(async () => (await admin.exists(`${cliEnv.QUEUE_PREFIX}:batch:meta`, `${cliEnv.QUEUE_PREFIX}:default:meta`)) === 2, 'the CLI set up', 30_000);
      // Writes wait inside Redis (CLIENT PAUSE), then Redis goes away under them.
      await admin.call('CLIENT', 'PAUSE', '30000', 'WRITE');
      sendJobs('{"name":"sleep","data":{"ms":1}}\n{"name":"hello-world"}\n');
      const cancel = ops.cancelJob(parent).catch((e: unknown) => e);
      const pause = ops.pauseQueue('batch').catch((e: unknown) => e);
      // A batch and a deduplicated enqueue take no caller job ids: their advice must not be "retry
      // with the same jobIds", which the API then refuses; a batch is retried by its batch id.
      const batch = ops.batch([{ name: 'sleep', data: { ms: 1 } }]).catch((e: unknown) => e);
      const deduped = ops.enqueue('sleep', { ms: 1 }, { dedupe: { key: 'held-dedupe' } }).catch((e: unknown) => e);
      // The CLI's bulk add and the client's calls are sent and held (flag b) before Redis dies
      // (the client's share one connection: one held command, the rest queued behind it).
      await waitFor(async () => {
        const list = String(await admin.call('CLIENT', 'LIST'));
        return list.split('\n').filter((l) => /flags=\S*b/.test(l)).length >= 2;
      }, 'held writes', 20_000);
      // SIGKILL: a SHUTDOWN would itself wait out the pause, and the held writes would run first.
      const exited = new Promise((r) => redis.server.process.once('exit', r));
      redis.server.process.kill('SIGKILL');
      await exited;
      admin.disconnect();
      const cli = await run;
      assert.equal(cli.code, 1, cli.stderr);
      assert.match(cli.stderr, /outcome is unknown/);
      const ids = /jobIds, in input order \(retry with them as each job's jobId\): (\S+) (\S+)/.exec(cli.stderr);
      assert.ok(ids, `the ids to retry with are printed:\n${cli.stderr}`);
      for (const e of [await cancel, await pause]) {
        assert.ok(e instanceof UnavailableError, String(e));
        assert.equal(e.outcome, 'unknown', e.message);
        assert.match(e.message, /repeating the same call is safe/);
      }
      const b = await batch;
      assert.ok(b instanceof UnavailableError, String(b));
      assert.equal(b.outcome, 'unknown', b.message);
      assert.match(b.message, /retry with the same batch id "[0-9a-f-]{36}" \(id in the request\): it creates the batch at most once/);
      assert.doesNotMatch(b.message, /retry with the same jobIds/);
      const d = await deduped;
      assert.ok(d instanceof UnavailableError, String(d));
      assert.match(d.message, /retry with the same dedupe key "held-dedupe"/);
    } finally {
      await redis.restart();
      await ops.close();
    }
  });
});
