import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import { graceOf, healthOf } from '../src/schedules/health.js';
import { historyKey, type RunRecord } from '../src/schedules/history.js';
import { CenterMetrics } from '../src/server/metrics.js';
import { handlers } from '../workers/handlers/index.js';
import { auditLines, startServer } from './board-support.js';
import { silentLogger, testConfig, useTestCenter } from './support/center.js';
import { CenterProcess, waitFor } from './support/processes.js';

/*
 * Run history and health of schedules, against a real Redis and real workers: what a run records
 * (tick, start, lateness, outcome, error, attempts), the capped history, health, pause / resume
 * (also through a producer sync), and the same over HTTP.
 */

const center = useTestCenter();

function run(i: number): RunRecord {
  const tick = 1_700_000_000_000 + i * 1000;
  return {
    tick: new Date(tick).toISOString(),
    startedAt: new Date(tick + 5).toISOString(),
    finishedAt: new Date(tick + 15).toISOString(),
    durationMs: 10,
    latenessMs: 5,
    outcome: 'completed',
    error: null,
    attempts: 1,
  };
}

async function withWorker<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const lifecycle = new Lifecycle(silentLogger);
  try {
    await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers });
    return await fn();
  } finally {
    await lifecycle.shutdown();
  }
}

describe('schedule run history', () => {
  it('keeps the last SCHEDULE_HISTORY_LIMIT runs (100 by default), newest first', async () => {
    const { client } = await center.setup();
    await client.recurring.upsert('busy', { every: 3_600_000 }, 'hello-world', {});
    for (let i = 0; i < 300; i++) await client.schedules.history.record('default', 'busy', run(i));
    const all = await client.recurring.runs('busy');
    assert.equal(all.length, 100);
    assert.equal(all[0]!.tick, run(299).tick, 'newest first');
    assert.equal(all[99]!.tick, run(200).tick);
    assert.equal(await center.redis.client.llen(historyKey(client.queues.config, 'default', 'busy')), 100);
    assert.deepEqual(await client.recurring.runs('busy', { limit: 3 }), [run(299), run(298), run(297)]);
    assert.equal((await client.recurring.runs('busy', { limit: 1000 })).length, 100, 'capped by the history size');
    await assert.rejects(() => client.recurring.runs('busy', { limit: 0 }), /limit/);
    await assert.rejects(() => client.recurring.runs('no-such'), /No schedule/);

    // Two overlapping runs end out of tick order (a late tick and the next one, concurrency > 1):
    // listed by tick, the order recorded was the order they ended.
    await client.schedules.history.record('default', 'busy', run(301));
    await client.schedules.history.record('default', 'busy', run(300));
    assert.deepEqual((await client.recurring.runs('busy', { limit: 2 })).map((r) => r.tick), [run(301).tick, run(300).tick]);

    const small = await center.setup({ SCHEDULE_HISTORY_LIMIT: '7' });
    await small.client.recurring.upsert('busy', { every: 3_600_000 }, 'hello-world', {});
    for (let i = 0; i < 20; i++) await small.client.schedules.history.record('default', 'busy', run(i));
    assert.equal((await small.client.recurring.runs('busy')).length, 7);
  });

  it('a worker records each run of a schedule: tick, times, lateness, outcome, error, attempts; health follows', async () => {
    const { env, client } = await center.setup();
    await client.recurring.upsert('good', { every: 500 }, 'sleep', { ms: 20 });
    await client.recurring.upsert('bad', { every: 500 }, 'fail', { message: 'boom' });
    await client.recurring.upsert('later', { cron: '0 3 * * *', tz: 'Europe/Paris' }, 'scheduler-test', {});
    await client.enqueue('sleep', { ms: 1 }); // an ordinary job: no history anywhere
    await withWorker(env, async () => {
      const runs = await waitFor(async () => {
        const r = await client.recurring.runs('good');
        return r.length >= 2 ? r : undefined;
      }, 'two runs of good');
      const r = runs[0]!;
      assert.equal(r.outcome, 'completed');
      assert.equal(r.error, null);
      assert.equal(r.attempts, 1);
      const jobIds = (await client.queues.get('batch').getJobs(['completed'])).map((j) => String(j.id));
      assert.ok(jobIds.includes(`repeat:good:${Date.parse(r.tick)}`), `the tick is the scheduler job's: ${r.tick} in ${jobIds.join(', ')}`);
      assert.ok(r.durationMs! >= 15, `duration ${r.durationMs}`);
      assert.equal(r.latenessMs, Date.parse(r.startedAt!) - Date.parse(r.tick));
      assert.ok(r.latenessMs! >= 0 && r.latenessMs! < 5000, `lateness ${r.latenessMs}`);
      assert.ok(Date.parse(runs[0]!.tick) > Date.parse(runs[1]!.tick), 'newest first');

      const failed = await waitFor(async () => (await client.recurring.runs('bad'))[0], 'a failed run of bad');
      assert.equal(failed.outcome, 'failed');
      assert.equal(failed.error, 'boom');
      assert.equal(failed.attempts, 3, 'the fail contract has 3 attempts: recorded once, after the last');

      const good = (await client.recurring.get('good'))!;
      assert.ok(good.lastRun && ['ok', 'late'].includes(good.health), JSON.stringify(good));
      const bad = (await client.recurring.get('bad'))!;
      assert.equal(bad.health, 'failing');
      assert.equal(bad.lastRun?.outcome, 'failed');
      const later = (await client.recurring.get('later'))!;
      assert.equal(later.health, 'pending');
      assert.equal(later.lastRun, null);
      assert.equal(later.grace, 8_640_000, '10 % of a day');
      const list = await client.recurring.list();
      assert.deepEqual(list.map((s) => [s.id, s.health === 'failing']).sort(), [['bad', true], ['good', false], ['later', false]]);
    });
    const keys = await center.redis.client.keys(`${client.queues.config.prefix}:jc:*:runs:*`);
    assert.deepEqual(keys.sort(), ['bad', 'good'].map((id) => historyKey(client.queues.config, id === 'good' ? 'batch' : 'default', id)).sort());
  });

  it('health: overdue after tick + grace, never when paused or ended; grace defaults to max(60 s, 10 % of the period)', () => {
    const now = Date.now();
    const base = { paused: false, ended: false, next: now - 5000, graceMs: 3000, lastRun: null };
    assert.equal(healthOf(base, now), 'overdue');
    assert.equal(healthOf({ ...base, graceMs: 6000 }, now), 'pending');
    assert.equal(healthOf({ ...base, paused: true }, now), 'paused');
    assert.equal(healthOf({ ...base, ended: true }, now), 'ended');
    const late = { ...run(1), latenessMs: 1500 };
    assert.equal(healthOf({ ...base, next: now + 1000, lastRun: late }, now), 'late');
    assert.equal(healthOf({ ...base, next: now + 1000, lastRun: run(1) }, now), 'ok');
    assert.equal(graceOf({ every: 2000 }), 60_000);
    assert.equal(graceOf({ every: 2000, grace: 3000 }), 3000);
    assert.equal(graceOf({ cron: '0 * * * *' }), 360_000);
  });
});

describe('pause and resume', () => {
  it('a paused schedule keeps its definition, does not fire, is never overdue; a producer sync does not resume it', async () => {
    const { env, client, group } = await center.setup();
    await client.recurring.upsert('tick', { every: 300 }, 'scheduler-test', { note: 'keep' }, { grace: 1000 });
    await withWorker(env, async () => {
      await waitFor(async () => (await client.recurring.runs('tick')).length >= 2, 'runs before the pause');
      const paused = await client.recurring.pause('tick');
      assert.equal(paused.paused, true);
      assert.equal(paused.health, 'paused');
      assert.equal(paused.next, null);
      assert.deepEqual(paused.data, { note: 'keep' });
      assert.equal(paused.every, 300);
      assert.equal(paused.grace, 1000);
      // A run already active when the pause came may still finish; after that, nothing.
      await new Promise((r) => setTimeout(r, 500));
      const before = (await client.recurring.runs('tick')).length;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await client.recurring.runs('tick')).length, before, 'no run while paused');
      assert.equal((await client.recurring.get('tick'))!.health, 'paused', 'never overdue while paused');
      assert.deepEqual((await client.recurring.list()).map((s) => [s.id, s.paused]), [['tick', true]]);

      // A producer that declares the same schedule syncs it: still paused, definition updated.
      const producer = new CenterProcess('producer:svc', 'test/fixtures/producer.ts', {
        ...env,
        PRODUCER_ID: 'svc',
        FIXTURE_SCHEDULES: JSON.stringify([{ id: 'tick', repeat: { every: 400 }, name: 'scheduler-test', data: { note: 'synced' } }]),
      });
      group.all.push(producer);
      await producer.waitForMessage('Schedules synced', 30_000);
      const synced = (await client.recurring.get('tick'))!;
      assert.equal(synced.paused, true);
      assert.equal(synced.every, 400);
      await producer.stop();

      const resumed = await client.recurring.resume('tick');
      assert.equal(resumed.paused, false);
      assert.ok(resumed.next, 'a next tick again');
      await waitFor(async () => (await client.recurring.runs('tick')).length > before, 'a run after resume');
      assert.deepEqual((await client.recurring.runs('tick', { limit: 1 }))[0]!.outcome, 'completed');
    });
    await assert.rejects(() => client.recurring.pause('no-such'), /No schedule/);
    await assert.rejects(() => client.recurring.resume('no-such'), /No schedule/);
  });

  it('over HTTP: lastRun and health, runs?limit, pause / resume audited, bad input is a 400', async () => {
    const token = 'history-test-token-0123456789';
    // The worker adds its job timings to Redis every 100 ms, so /metrics shows them below.
    const { env, client, group } = await center.setup({
      API_TOKEN: token,
      BOARD_USER: 'admin',
      BOARD_PASSWORD: 'admin-password-for-tests',
      WORKER_TIMINGS_FLUSH_MS: '100',
    });
    const server = await startServer(group, env);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const put = await call('PUT', '/api/recurring/web', { name: 'sleep', data: { ms: 1 }, every: 400, grace: 2500 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.grace, 2500);
    assert.equal(put.body.health, 'pending');
    assert.equal(put.body.lastRun, null);
    assert.equal((await call('PUT', '/api/recurring/web2', { name: 'sleep', data: { ms: 1 }, every: 400, grace: -1 })).status, 400);
    await withWorker(env, async () => {
      await waitFor(async () => (await client.recurring.runs('web')).length >= 3, 'three runs');
      const one = await call('GET', '/api/recurring/web');
      const last = one.body.lastRun as RunRecord;
      assert.deepEqual(Object.keys(last).sort(), ['attempts', 'durationMs', 'error', 'finishedAt', 'latenessMs', 'outcome', 'startedAt', 'tick']);
      assert.ok(['ok', 'late'].includes(one.body.health as string));
      const runs = await call('GET', '/api/recurring/web/runs?limit=2');
      assert.equal((runs.body.runs as RunRecord[]).length, 2);
      const listed = (await call('GET', '/api/recurring')).body as unknown as { id: string; lastRun: unknown; health: string }[];
      assert.ok(listed[0]!.lastRun && listed[0]!.health);
      // /metrics: per schedule last success, duration, lateness, health; per queue histograms; process metrics.
      // The job histograms come from the workers' flush (every 100 ms here), which may land after
      // the runs recorded above on a loaded machine: wait for it, then read everything else there.
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`${server.base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
        return /^jobcenter_job_wait_seconds_count\{queue="batch"\} [1-9]/m.test(text) ? text : undefined;
      }, 'the job histograms on /metrics');
      const lastSuccess = /^jobcenter_schedule_last_success_timestamp_seconds\{schedule="web",queue="batch"\} (\S+)$/m.exec(metrics);
      assert.ok(lastSuccess && Math.abs(Number(lastSuccess[1]) - Date.now() / 1000) < 120, metrics.slice(0, 3000));
      assert.match(metrics, /^jobcenter_schedule_last_duration_seconds\{schedule="web",queue="batch"\} /m);
      assert.match(metrics, /^jobcenter_schedule_lateness_seconds\{schedule="web",queue="batch"\} /m);
      assert.match(metrics, /^jobcenter_schedule_health\{schedule="web",queue="batch",state="(ok|late)"\} 1$/m);
      assert.match(metrics, /^jobcenter_schedule_health\{schedule="web",queue="batch",state="failing"\} 0$/m);
      assert.match(metrics, /^jobcenter_job_duration_seconds_bucket\{le="\+Inf",queue="batch"\} [1-9]/m);
      assert.match(metrics, /^jobcenter_job_wait_seconds_count\{queue="batch"\} [1-9]/m);
      assert.match(metrics, /^jobcenter_queue_oldest_waiting_age_seconds\{queue="default"\} 0$/m);
      assert.match(metrics, /^process_cpu_user_seconds_total /m);
      assert.equal((await call('GET', '/api/recurring/web/runs?limit=0')).status, 400);
      assert.equal((await call('GET', '/api/recurring/web/runs?limit=x')).status, 400);
      assert.equal((await call('GET', '/api/recurring/nope/runs')).status, 404);
      const paused = await call('POST', '/api/recurring/web/pause');
      assert.equal(paused.status, 200);
      assert.equal(paused.body.health, 'paused');
      assert.equal((await call('POST', '/api/recurring/web/resume')).body.paused, false);
      assert.equal((await call('POST', '/api/recurring/nope/pause')).status, 404);
    });
    const actions = auditLines(server.proc).map((l) => `${String(l.action)} ${String(l.result)} ${String(l.schedule)}`);
    assert.ok(actions.includes('recurring.pause ok web'), actions.join('\n'));
    assert.ok(actions.includes('recurring.resume ok web'), actions.join('\n'));
  });

  it('job duration and wait histograms count every job that finished, from every worker (no sampling); a clean shutdown flushes', async () => {
    // Flushes every hour: what Redis holds at the end was written by the shutdown flush.
    const { env, client } = await center.setup({ WORKER_TIMINGS_FLUSH_MS: '3600000', WORKER_CONCURRENCY: '20' });
    const lifecycle = new Lifecycle(silentLogger);
    const quick = 400; // more than a scrape-time sample of finished jobs could see
    const runtimes: Awaited<ReturnType<typeof startWorkerRuntime>>[] = [];
    try {
      for (let i = 0; i < 2; i++) runtimes.push(await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers }));
      let completed = 0;
      for (const r of runtimes) r.events.on('job.completed', () => completed++);
      await client.enqueueMany(Array.from({ length: quick }, () => ({ name: 'hello-world' as const, data: {} })));
      await client.enqueueMany(Array.from({ length: 10 }, () => ({ name: 'sleep' as const, data: { ms: 60 } })));
      // Delayed jobs wait from when they are due, not from when they were added.
      for (let i = 0; i < 3; i++) await client.schedule('sleep', { ms: 60 }, { delay: 2000 });
      await waitFor(() => completed === quick + 13, `${quick + 13} completions`, 60_000);
      assert.equal((await client.jobTimings('default')).duration.count, 0, 'nothing flushed before the interval or shutdown');
    } finally {
      await lifecycle.shutdown();
    }
    const metrics = new CenterMetrics(() => client.bullQueues().map((q) => ({ queue: q, labels: { queue: client.queueShard(q).queue } })), 5000, client);
    const text = await metrics.render();
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}+.]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('jobcenter_job_duration_seconds_count{queue="default"}'), quick, text);
    assert.equal(value('jobcenter_job_wait_seconds_count{queue="default"}'), quick);
    assert.equal(value('jobcenter_job_duration_seconds_bucket{le="+Inf",queue="default"}'), quick);
    assert.equal(value('jobcenter_job_duration_seconds_count{queue="batch"}'), 13);
    // The sleep jobs ran at least 60 ms each: none in the buckets up to 50 ms, all by +Inf.
    assert.equal(value('jobcenter_job_duration_seconds_bucket{le="0.05",queue="batch"}'), 0);
    assert.equal(value('jobcenter_job_duration_seconds_bucket{le="+Inf",queue="batch"}'), 13);
    // Counted from the job's own delay field, which BullMQ zeroes, each delayed job "waited" its 2 s.
    assert.ok(value('jobcenter_job_wait_seconds_sum{queue="batch"}') < 3, `the delays are no wait: ${value('jobcenter_job_wait_seconds_sum{queue="batch"}')}`);
    assert.ok(value('jobcenter_job_duration_seconds_sum{queue="batch"}') >= 0.6, text);
    // Buckets are cumulative.
    const buckets = [...text.matchAll(/^jobcenter_job_wait_seconds_bucket\{le="[^"]+",queue="default"\} (\S+)$/gm)].map((m) => Number(m[1]));
    assert.equal(buckets.length, 17);
    assert.deepEqual([...buckets].sort((a, b) => a - b), buckets);
  });

  it('a sharded queue\'s oldest waiting age is labelled like its other series: the logical queue and the shard', async () => {
    const { client } = await center.setup({ QUEUE_SHARDS: 'batch:3' });
    await client.enqueueMany(Array.from({ length: 9 }, () => ({ name: 'sleep' as const, data: { ms: 1 } })));
    const metrics = new CenterMetrics(
      () =>
        client.bullQueues().map((q) => {
          const { queue, shard, shards } = client.queueShard(q);
          return { queue: q, labels: shards > 1 ? { queue, shard: String(shard) } : { queue } };
        }),
      5000,
      client,
    );
    const text = await metrics.render();
    const series = [...text.matchAll(/^jobcenter_queue_oldest_waiting_age_seconds(\{[^}]*\}) \S+$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(series, ['{queue="batch",shard="0"}', '{queue="batch",shard="1"}', '{queue="batch",shard="2"}', '{queue="default"}'], text);
  });
});
