import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobCenterClient } from '../src/client.js';
import { UnavailableError } from '../src/errors.js';
import { freePort } from '../src/redis/redis-server.js';
import { testClient } from './support/center.js';
import { ProcessGroup, waitFor, type CenterProcess } from './support/processes.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

let redis: TestRedis;
const groups: ProcessGroup[] = [];
const clients: JobCenterClient[] = [];

before(async () => {
  redis = await startTestRedis({ appendonly: true });
});
after(async () => {
  await Promise.all(groups.map((g) => g.stopAll()));
  await Promise.all(clients.map((c) => c.close()));
  await redis.stop();
});

const TOKEN = 'outage-test-token-0123456789';

function heartbeatIds(worker: CenterProcess): string[] {
  return worker.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Hello World!')).map((l) => String(l.job));
}

describe('Redis outage', () => {
  it('every process survives a Redis restart; health says 503 and enqueues fail fast meanwhile; nothing is lost or doubled', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix(),
      PORT: String(port),
      API_TOKEN: TOKEN,
      BOARD_USER: 'admin',
      BOARD_PASSWORD: 'outage-test-password',
    };
    const group = new ProcessGroup(env);
    groups.push(group);
    // Its schedule check runs every second, so that some pass meets the outage.
    const producer = group.start('producer', { PRODUCER_RESYNC_MS: '1000' });
    // A job whose completion was in flight when Redis died may come back only through BullMQ's
    // stalled-job check (lock expiry, then the next check): seconds here instead of the default 30 s.
    const worker = group.start('worker', { WORKER_CONCURRENCY: '2', WORKER_LOCK_DURATION_MS: '5000', WORKER_STALLED_INTERVAL_MS: '1000' });
    const server = group.start('server');
    await Promise.all([
      producer.waitForMessage('Schedules synced'),
      worker.waitForMessage('Worker started'),
      server.waitForMessage('Server listening'),
    ]);
    const client = await testClient(env);
    clients.push(client);
    const health = () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status);
    assert.equal(await health(), 200);

    // Accepted before the outage: a backlog the worker cannot finish before Redis goes away.
    const accepted = [];
    for (let i = 0; i < 12; i++) accepted.push(await client.enqueue('sleep', { ms: 250, result: i }));
    await waitFor(() => heartbeatIds(worker).length >= 2, 'heartbeats before the outage');

    await redis.server.stop();
    await waitFor(async () => (await health()) === 503, 'healthz 503 while Redis is down', 5000);
    const t0 = Date.now();
    await assert.rejects(client.enqueue('sleep', { ms: 1 }), UnavailableError);
    assert.ok(Date.now() - t0 < 1000, `client enqueue failed fast (${Date.now() - t0} ms)`);
    const t1 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sleep', data: { ms: 1 } }),
    });
    assert.equal(res.status, 503, await res.text());
    assert.ok(Date.now() - t1 < 2000, `HTTP enqueue failed fast (${Date.now() - t1} ms)`);
    // A schedule check during the outage says so once; it must not call every declared schedule
    // missing and "could not re-create" it.
    await producer.waitForMessage('Schedule check failed; will retry', 10_000);

    await redis.restart();
    await waitFor(async () => (await health()) === 200, 'healthz 200 after Redis is back', 15_000);
    for (const ref of accepted) {
      await waitFor(async () => (await client.getJob(ref))?.state === 'completed', `job ${ref.id} completed`, 30_000);
    }
    const ranSleep = worker.lines.filter((l) => l.msg === 'Job failed' || l.msg === 'Job attempt failed; will retry');
    assert.deepEqual(ranSleep, [], 'no job failed because of the outage');

    const beatsAfter = heartbeatIds(worker).length;
    await waitFor(() => heartbeatIds(worker).length >= beatsAfter + 3, 'heartbeats keep firing after the outage', 15_000);
    const ids = heartbeatIds(worker);
    assert.equal(new Set(ids).size, ids.length, 'no heartbeat tick ran twice');
    for (const p of [producer, worker, server]) assert.ok(p.running, `${p.name} survived:\n${p.output()}`);
    const notRecreated = producer.lines.filter((l) => l.msg === 'Could not re-create a missing schedule; will retry');
    assert.deepEqual(notRecreated, [], 'the outage made no schedule look missing');
    // Logged at both ends, however short the outage (a restart within the first reconnect delay
    // raised no error: the worker said nothing of it).
    const redisLines = () => worker.lines.filter((l) => /^Redis connection/.test(String(l.msg))).map((l) => String(l.msg));
    assert.ok(redisLines().some((m) => m === 'Redis connection lost; reconnecting' || m.startsWith('Redis connection error')), `worker logged the outage: ${redisLines().join(' | ')}`);
    assert.ok(redisLines().includes('Redis connection restored'), `worker logged the reconnect: ${redisLines().join(' | ')}`);
  });

  it('a frozen Redis (alive, answering nothing) fails an enqueue within REDIS_COMMAND_TIMEOUT_MS, outcome unknown; its retry after the thaw adds it once', async () => {
    const client = await testClient({ REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), REDIS_COMMAND_TIMEOUT_MS: '1000' });
    clients.push(client);
    const server = redis.server.process;
    server.kill('SIGSTOP');
    let failed: unknown;
    const started = Date.now();
    try {
      // Bounded here, so that a hang fails this test instead of stalling the suite.
      const hung = new Promise((r) => setTimeout(() => r('no answer within 8 s'), 8000).unref());
      failed = await Promise.race([client.enqueue('hello-world', {}).catch((err: unknown) => err), hung]);
    } finally {
      server.kill('SIGCONT');
    }
    const waited = Date.now() - started;
    assert.ok(failed instanceof UnavailableError, String(failed));
    assert.equal(failed.outcome, 'unknown', failed.message);
    assert.ok(waited < 5000, `answered after ${waited} ms`);
    assert.equal(typeof failed.jobId, 'string', 'the key to retry with');
    // The command reached the frozen Redis and ran when it thawed, or never did: the retry with the
    // same key makes one job either way.
    const retried = await client.enqueue('hello-world', {}, { jobId: failed.jobId });
    assert.equal(retried.id, failed.jobId);
    const jobs = await client.queues.get('default').getJobs(['waiting', 'active', 'completed', 'delayed']);
    assert.equal(jobs.filter((j) => j.id === failed.jobId).length, 1);
  });

  it('warns at start when Redis may evict keys', async () => {
    const lru = await startTestRedis({ appendonly: false, args: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const group = new ProcessGroup({ REDIS_URL: lru.url, QUEUE_PREFIX: uniquePrefix() });
      groups.push(group);
      const worker = group.start('worker');
      const line = await worker.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('maxmemory-policy is "allkeys-lru"'));
      assert.equal(line.level, 40, 'logged as a warning');
      await worker.stop();
    } finally {
      await lru.stop();
    }
  });
});
