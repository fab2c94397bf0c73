import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import type { Repeat } from '../src/client.js';
import type { TestClient as JobCenterClient } from './support/center.js';
import { NotFoundError, ValidationError } from '../src/errors.js';
import { Lifecycle } from '../src/lifecycle.js';
import { queueKey } from '../src/redis/connection.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import sleepHandler from '../workers/handlers/sleep.js';
import { silentLogger, testConfig, useTestCenter } from './support/center.js';
import { waitFor } from './support/processes.js';

/*
 * Recurring jobs through the typed client: upsert / list (with next) / remove / trigger, time
 * zones, validation; and on a real worker process: overlap 'skip', and ticks missed while no
 * worker ran (one catch-up run, never a burst).
 */

const center = useTestCenter();
const setup = () => center.setup();

function rejectsWith(fn: () => Promise<unknown>, field: string, message?: RegExp) {
  return assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof ValidationError, String(err));
    assert.ok(
      err.details.some((d) => d.field === field),
      `expected a detail for ${field}: ${JSON.stringify(err.details)}`,
    );
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** The wall-clock hour and minute of `iso` in `tz`. */
function clockIn(iso: string, tz: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
}

describe('recurring jobs (client)', () => {
  it('upsert creates or updates by id, list shows the next run, remove says whether it existed', async () => {
    const { client } = await setup();
    const created = await client.recurring.upsert('report', { cron: '*/5 * * * *' }, 'scheduler-test', { note: 'v1' });
    assert.equal(created.queue, 'default');
    assert.equal(created.cron, '*/5 * * * *');
    assert.ok(created.next && Date.parse(created.next) > Date.now() - 1000, `next ${created.next}`);
    assert.equal(new Date(created.next).getUTCMinutes() % 5, 0);
    await client.recurring.upsert('report', { every: 60_000 }, 'scheduler-test', { note: 'v2' }, { overlap: 'skip' });
    await client.recurring.upsert('beat', { every: 1000 }, 'hello-world', {});

    const list = await client.recurring.list();
    assert.deepEqual(list.map((s) => s.id).sort(), ['beat', 'report']);
    const report = list.find((s) => s.id === 'report')!;
    assert.equal(report.every, 60_000);
    assert.equal(report.cron, undefined);
    assert.deepEqual(report.data, { note: 'v2' });
    assert.equal(report.overlap, 'skip');
    assert.ok(list[0]!.next! <= list[1]!.next!, 'soonest first');

    assert.equal(await client.recurring.remove('report'), true);
    assert.equal(await client.recurring.remove('report'), false);
    assert.deepEqual((await client.recurring.list()).map((s) => s.id), ['beat']);
  });

  it('trigger runs the job once now and leaves the schedule unchanged', async () => {
    const { client } = await setup();
    await client.recurring.upsert('nightly', { cron: '0 3 * * *', tz: 'Europe/Paris' }, 'scheduler-test', { note: 'n' });
    const before = await client.recurring.get('nightly');
    const ref = await client.recurring.trigger('nightly');
    assert.equal(ref.queue, 'default');
    const job = await client.getJob(ref);
    assert.equal(job?.state, 'waiting');
    assert.equal(job?.name, 'scheduler-test');
    assert.deepEqual(job?.data, { note: 'n' });
    assert.deepEqual(await client.recurring.get('nightly'), before);
    assert.equal((await client.recurring.list()).length, 1);
    await assert.rejects(() => client.recurring.trigger('no-such'), NotFoundError);
  });

  it('cron patterns run in their time zone', async () => {
    const { client } = await setup();
    const tokyo = await client.recurring.upsert('tokyo', { cron: '30 9 * * *', tz: 'Asia/Tokyo' }, 'hello-world', {});
    const ny = await client.recurring.upsert('ny', { cron: '30 9 * * *', tz: 'America/New_York' }, 'hello-world', {});
    assert.equal(tokyo.tz, 'Asia/Tokyo');
    assert.equal(clockIn(tokyo.next!, 'Asia/Tokyo'), '09:30');
    assert.equal(clockIn(ny.next!, 'America/New_York'), '09:30');
    assert.notEqual(tokyo.next, ny.next);
  });

  it('rejects bad input before writing anything, naming the field', async () => {
    const { client } = await setup();
    const untyped = client.recurring.upsertUnchecked;
    await rejectsWith(() => client.recurring.upsert('x', { cron: '61 * * * *' }, 'hello-world', {}), 'cron', /Invalid cron pattern/);
    await rejectsWith(() => client.recurring.upsert('x', { cron: 'every day' }, 'hello-world', {}), 'cron');
    await rejectsWith(() => untyped('x', { cron: '* * * * *', every: 1000 } as unknown as Repeat, 'hello-world', {}), 'cron', /not both/);
    await rejectsWith(() => client.recurring.upsert('x', { cron: '* * * * *', tz: 'Mars/Olympus' }, 'hello-world', {}), 'tz');
    await rejectsWith(() => client.recurring.upsert('x', { every: 5 }, 'hello-world', {}), 'every');
    await rejectsWith(() => client.recurring.upsert('bad id!', { every: 1000 }, 'hello-world', {}), 'id');
    await rejectsWith(() => untyped('x', { every: 1000 }, 'no-such-job', {}), 'name', /known jobs: hello-world/);
    await rejectsWith(() => untyped('x', { every: 1000 }, 'sleep', { ms: 'long' }), 'data.ms');
    await rejectsWith(() => untyped('x', { every: 1000 }, 'sleep', { ms: 1 }, { overlap: 'maybe' as 'skip' }), 'overlap');
    assert.deepEqual(await client.recurring.list(), []);
    const keys = await center.redis.client.keys(`${client.queues.config.prefix}:*`);
    assert.deepEqual(keys.filter((k) => !k.endsWith(':meta')), [], 'nothing written but BullMQ queue metadata');
  });
});

/** The tick a scheduler job was created for, from its id `repeat:<schedule>:<millis>`. */
const tickOf = (job: Job): number => Number(String(job.id).split(':').pop());

async function runsOf(client: JobCenterClient, queue: string, schedule: string): Promise<Job[]> {
  const jobs = await client.queues.get(queue).getJobs(['completed', 'active']);
  return jobs.filter((j) => j?.repeatJobKey === schedule).sort((a, b) => tickOf(a) - tickOf(b));
}

describe('recurring jobs on a worker process', () => {
  it('ticks missed while no worker ran give one catch-up run, never a burst', async () => {
    const { client, group } = await setup();
    await client.recurring.upsert('per-second', { cron: '* * * * * *' }, 'scheduler-test', { note: 'cron' });
    await client.recurring.upsert('interval', { every: 1000 }, 'scheduler-test', { note: 'every' });
    await new Promise((r) => setTimeout(r, 3500)); // ~3 ticks of each pass with no worker
    const startedAt = Date.now();
    await group.start('worker').waitForMessage('Worker started', 30_000);
    for (const id of ['per-second', 'interval']) {
      const runs = await waitFor(async () => {
        const r = await runsOf(client, 'default', id);
        return r.filter((j) => j.finishedOn && tickOf(j) >= startedAt).length >= 1 ? r : undefined;
      }, `${id}: a regular tick after the catch-up`, 20_000);
      const missed = runs.filter((j) => tickOf(j) < startedAt);
      assert.equal(missed.length, 1, `${id}: exactly one catch-up run for the missed ticks: ${runs.map((j) => j.id).join(', ')}`);
      const catchUp = missed[0]!;
      assert.ok(startedAt - tickOf(catchUp) >= 2000, `${id}: the catch-up is the late pending tick (${startedAt - tickOf(catchUp)} ms late)`);
      // Every later run belongs to a tick at or after the worker came back, one per tick.
      const later = runs.filter((j) => tickOf(j) >= startedAt).map(tickOf);
      assert.equal(new Set(later).size, later.length);
      assert.ok(later.every((t, i) => i === 0 || t - later[i - 1]! >= 900), `${id}: ticks ${later.join(', ')}`);
    }
  });

  it("overlap 'skip' skips ticks while the previous run is active; 'allow' overlaps", async () => {
    const { client, group } = await setup();
    await group.start('worker').waitForMessage('Worker started', 30_000);
    await client.recurring.upsert('careful', { every: 300 }, 'sleep', { ms: 1200 }, { overlap: 'skip' });
    await client.recurring.upsert('eager', { every: 300 }, 'sleep', { ms: 1200 });
    const real = (jobs: Job[]) => jobs.filter((j) => j.finishedOn && !(j.returnvalue as { skipped?: boolean } | null)?.skipped);
    const careful = await waitFor(async () => {
      const runs = await runsOf(client, 'batch', 'careful');
      return real(runs).length >= 2 ? runs : undefined;
    }, 'two real runs of the skip schedule', 30_000);
    const skipped = careful.filter((j) => (j.returnvalue as { skipped?: boolean } | null)?.skipped);
    assert.ok(skipped.length >= 1, 'ticks during a run were skipped');
    assert.match(String((skipped[0]!.returnvalue as { reason: string }).reason), /still active/);
    const spans = real(careful).map((j) => [j.processedOn!, j.finishedOn!] as const);
    // BullMQ stamps processedOn before the worker checks the schedule's lock and finishedOn after it
    // is released, so back-to-back runs may touch by a few ms; overlapping ones would share ~900 ms.
    for (let i = 1; i < spans.length; i++) {
      assert.ok(spans[i]![0] >= spans[i - 1]![1] - 100, `run ${i} started after run ${i - 1} ended: ${JSON.stringify(spans)}`);
    }
    await client.recurring.remove('careful');

    const eager = await waitFor(async () => {
      const runs = real(await runsOf(client, 'batch', 'eager'));
      return runs.length >= 2 ? runs : undefined;
    }, 'two runs of the allow schedule', 30_000);
    await client.recurring.remove('eager');
    const overlapping = eager.some((a, i) => eager.some((b, k) => k !== i && b.processedOn! > a.processedOn! && b.processedOn! < a.finishedOn!));
    assert.ok(overlapping, `allow runs overlap: ${JSON.stringify(eager.map((j) => [j.processedOn, j.finishedOn]))}`);
  });

  it("overlap 'skip': a run whose lock another run holds by now leaves that lock alone when it ends", async () => {
    const { env, client } = await setup();
    await client.recurring.upsert('shared', { every: 3_600_000 }, 'sleep', { ms: 1500, result: 'ran' }, { overlap: 'skip' });
    const tick = await waitFor(async () => (await client.queues.get('batch').getJobs(['waiting']))[0], 'the first tick');
    const lockKey = queueKey(client.queues.config, 'batch', 'running', 'shared');
    const lifecycle = new Lifecycle(silentLogger);
    try {
      await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [sleepHandler] });
      await waitFor(async () => (await center.redis.client.get(lockKey)) === String(tick.id), 'the run to hold the lock');
      // As when this run's lock expired (its event loop blocked past the TTL) and the next tick took it.
      await center.redis.client.set(lockKey, 'repeat:shared:next', 'PX', 60_000);
      await waitFor(async () => (await client.getJob({ queue: 'batch', id: String(tick.id) }))?.state === 'completed', 'the run to end');
      assert.equal(await center.redis.client.get(lockKey), 'repeat:shared:next', "the ended run deleted the next run's lock");
    } finally {
      await lifecycle.shutdown();
    }
  });

  it("overlap 'skip': a run retried after its worker died while holding the lock still runs", async () => {
    const { env, client } = await setup();
    await client.recurring.upsert('orphan', { every: 3_600_000 }, 'sleep', { ms: 1, result: 'ran' }, { overlap: 'skip' });
    await client.recurring.upsert('blocked', { every: 3_600_000 }, 'sleep', { ms: 1, result: 'ran' }, { overlap: 'skip' });
    const pending = await waitFor(async () => {
      const jobs = await client.queues.get('batch').getJobs(['waiting']);
      return jobs.length === 2 ? jobs : undefined;
    }, 'the two first ticks');
    const idOf = (schedule: string) => String(pending.find((j) => j.repeatJobKey === schedule)!.id);
    // As a dead worker leaves it: the lock still names the run itself (orphan) or an older run (blocked).
    await center.redis.client.set(queueKey(client.queues.config, 'batch', 'running', 'orphan'), idOf('orphan'), 'PX', 60_000);
    await center.redis.client.set(queueKey(client.queues.config, 'batch', 'running', 'blocked'), 'repeat:blocked:1', 'PX', 60_000);
    const lifecycle = new Lifecycle(silentLogger);
    try {
      await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [sleepHandler] });
      const result = async (schedule: string) =>
        waitFor(async () => (await client.getJob({ queue: 'batch', id: idOf(schedule) }))?.returnValue, `${schedule} to finish`);
      assert.deepEqual(((await result('orphan')) as { result: unknown }).result, 'ran');
      assert.equal(((await result('blocked')) as { skipped?: boolean }).skipped, true);
    } finally {
      await lifecycle.shutdown();
    }
  });
});

describe('recurring jobs: concurrent calls on one schedule', () => {
  it('remove, upsert, pause and resume at once leave the definition and the scheduler in agreement', async () => {
    const { client } = await setup();
    const queue = client.queues.shard('default', 0);
    for (let round = 0; round < 15; round++) {
      const id = `race-${round}`;
      await client.recurring.upsert(id, { every: 1000 }, 'scheduler-test', { note: 'v1' });
      const calls = [
        () => client.recurring.remove(id),
        () => client.recurring.upsert(id, { every: 2000 }, 'scheduler-test', { note: 'v2' }),
        ...(round % 2 ? [() => client.recurring.pause(id), () => client.recurring.resume(id)] : []),
      ];
      const answers = await Promise.allSettled(calls.map((call) => call()));
      for (const a of answers) {
        // NotFoundError: a pause or resume after the removal. Never a window refusal: every 2 s has none.
        if (a.status === 'rejected') assert.ok(a.reason instanceof NotFoundError, `round ${round}: ${String(a.reason)}`);
      }
      const meta = await client.schedules.meta(id);
      const scheduler = (await queue.getJobScheduler(id)) as { every?: number; template?: { data?: unknown } } | undefined;
      const runs = Boolean(meta && !meta.paused);
      assert.equal(Boolean(scheduler), runs, `round ${round}: definition ${JSON.stringify(meta)}, scheduler ${JSON.stringify(scheduler)}`);
      if (scheduler) {
        assert.equal(scheduler.every, (meta!.spec!.repeat as { every?: number }).every, `round ${round}`);
        assert.deepEqual(scheduler.template?.data, meta!.spec!.data, `round ${round}`);
      }
    }
  });
});
