import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import { tickOf } from '../src/schedules/history.js';
import schedulerTest from '../workers/handlers/scheduler-test.js';
import { silentLogger, testConfig, useTestCenter } from './support/center.js';
import { waitFor } from './support/processes.js';

/*
 * startDate, endDate and limit (BullMQ's own window of a job scheduler) on a real worker: no tick
 * outside the window, at most `limit` ticks, and an ended schedule shows as ended, never overdue.
 */

const center = useTestCenter();

describe('schedule window: startDate, endDate, limit', () => {
  it('runs only inside the window and at most limit times; an ended schedule is ended, not overdue', async () => {
    const { env, client } = await center.setup();
    const now = Date.now();
    const start = new Date(Math.ceil((now + 3000) / 1000) * 1000).toISOString();
    const end = new Date(Math.ceil((now + 6000) / 1000) * 1000).toISOString();
    const windowed = await client.recurring.upsert('windowed', { cron: '* * * * * *', startDate: start, endDate: end }, 'scheduler-test', {});
    assert.equal(windowed.next, start, 'the first tick is the start date');
    assert.equal(windowed.startDate, start);
    assert.equal(windowed.endDate, end);
    const limited = await client.recurring.upsert('limited', { every: 1000, limit: 2 }, 'scheduler-test', {});
    assert.equal(limited.limit, 2);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    assert.equal((await client.recurring.upsert('later', { every: 60_000, startDate: later }, 'scheduler-test', {})).startDate, later);
    await assert.rejects(
      () => client.recurring.upsert('bad', { every: 1000, startDate: end, endDate: start }, 'scheduler-test', {}),
      (e: Error & { details?: { field: string }[] }) => e.details?.some((d) => d.field === 'endDate') ?? false,
    );
    await assert.rejects(
      () => client.recurring.upsert('bad', { every: 1000, limit: 0 }, 'scheduler-test', {}),
      (e: Error & { details?: { field: string }[] }) => e.details?.some((d) => d.field === 'limit') ?? false,
    );

    const lifecycle = new Lifecycle(silentLogger);
    try {
      await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [schedulerTest] });
      const runs = async (id: string): Promise<Job[]> =>
        (await client.queues.get('default').getJobs(['completed'])).filter((j) => j?.repeatJobKey === id && !(j.returnvalue as { skipped?: boolean }).skipped);
      await waitFor(async () => Date.now() > Date.parse(end) + 2500 || undefined, 'the end of the window', 30_000, 200);
      const inWindow = (await runs('windowed')).map(tickOf).sort();
      assert.ok(inWindow.length >= 2, `runs in the window: ${inWindow.length}`);
      for (const t of inWindow) assert.ok(t >= Date.parse(start) && t <= Date.parse(end), `tick ${new Date(t).toISOString()} in the window`);
      assert.equal((await runs('limited')).length, 2, 'limit 2: two runs');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await runs('limited')).length, 2, 'and no more');
      const listed = new Map((await client.recurring.list()).map((s) => [s.id, s]));
      assert.equal(listed.get('windowed')?.health, 'ended');
      assert.equal(listed.get('limited')?.health, 'ended');
      // An ended schedule has no next run: BullMQ keeps the last tick (already run) as its next.
      assert.equal(listed.get('windowed')?.next, null, 'windowed: no next run once ended');
      assert.equal(listed.get('limited')?.next, null, 'limited: no next run once ended');
      assert.equal((await client.recurring.get('limited'))?.next, null);
      assert.notEqual(listed.get('later')?.health, 'overdue');
    } finally {
      await lifecycle.shutdown();
    }
  });

  it('refuses a window with no tick left (400 endDate), leaving what stood before unchanged', async () => {
    const { client } = await center.setup();
    const endDateRefused = (e: Error & { details?: { field: string }[] }) => e.details?.some((d) => d.field === 'endDate') ?? false;
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    // These answered 500 ("End date must be greater than current timestamp", "vanished right after
    // it was written") and left a stored definition GET could not find.
    await assert.rejects(() => client.recurring.upsert('ended', { cron: '* * * * *', endDate: past }, 'scheduler-test', {}), endDateRefused);
    await assert.rejects(() => client.recurring.upsert('ended', { every: 5000, endDate: past }, 'scheduler-test', {}), endDateRefused);
    await assert.rejects(() => client.recurring.upsert('ended', { cron: '0 0 1 1 *', tz: 'UTC', endDate: soon }, 'scheduler-test', {}), endDateRefused);
    assert.equal(await client.recurring.get('ended'), undefined);
    assert.equal(await client.schedules.meta('ended'), undefined, 'no definition was kept');

    const kept = await client.recurring.upsert('kept', { every: 3_600_000 }, 'scheduler-test', {});
    await assert.rejects(() => client.recurring.upsert('kept', { every: 1_800_000, endDate: past }, 'scheduler-test', {}), endDateRefused);
    const after = await client.recurring.get('kept');
    assert.equal(after?.every, 3_600_000);
    assert.equal(after?.endDate, undefined, 'the stored definition is what runs');
    assert.equal(after?.next, kept.next);
  });

  it('a producer declaring a schedule whose window has ended syncs the others and re-creates them when missing', async () => {
    const { client } = await center.setup();
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const declared = [
      { id: 'campaign', repeat: { cron: '0 9 * * *', tz: 'Europe/Paris', endDate: past }, name: 'scheduler-test', data: {} },
      { id: 'nightly', repeat: { cron: '0 3 * * *' }, name: 'scheduler-test', data: {} },
    ];
    // This threw, and the producer did not start.
    const synced = await client.schedules.sync('app', declared);
    assert.deepEqual(synced, { upserted: ['nightly'], removed: [], ended: ['campaign'], takenOver: [] });
    assert.ok(await client.recurring.get('nightly'));
    await client.recurring.remove('nightly');
    // Healing went schedule by schedule and stopped at the ended one, before reaching nightly.
    const { healMissing } = await import('../src/schedules.js');
    assert.deepEqual(await healMissing(client.schedules, 'app', declared), { healed: ['nightly'], failed: [] });
    assert.ok(await client.recurring.get('nightly'));
  });

  it('a resume refused because no tick is left keeps the schedule paused, listed and removable', async () => {
    const { client } = await center.setup();
    // One tick inside the window (b), endDate 2 s after it; paused before b and resumed after it.
    const b = Math.ceil((Date.now() + 1500) / 5000) * 5000;
    const endDate = new Date(b + 2000).toISOString().replace('.000Z', 'Z');
    await client.recurring.upsert('last-tick', { cron: '*/5 * * * * *', endDate }, 'scheduler-test', {});
    await client.recurring.pause('last-tick');
    await waitFor(async () => Date.now() > b + 300 || undefined, 'the last tick to pass', 10_000, 50);
    await assert.rejects(() => client.recurring.resume('last-tick'), /no tick left in its window/);
    // It was left with a live definition and no scheduler: gone from GET and the list, and DELETE answered 404.
    assert.equal((await client.recurring.get('last-tick'))?.paused, true, 'still there, paused');
    assert.ok((await client.recurring.list()).some((s) => s.id === 'last-tick' && s.paused));
    assert.equal(await client.recurring.remove('last-tick'), true);
    assert.equal(await client.schedules.meta('last-tick'), undefined, 'no definition left');
  });

  it('pause and resume keep the run count: limit counts every tick, and a schedule at its limit does not resume', async () => {
    const { env, client } = await center.setup();
    await client.recurring.upsert('counted', { every: 1000, limit: 3 }, 'scheduler-test', {});
    const lifecycle = new Lifecycle(silentLogger);
    try {
      await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [schedulerTest] });
      const runs = async () => (await client.recurring.runs('counted')).filter((r) => r.outcome === 'completed').length;
      await waitFor(async () => (await runs()) >= 2, 'two runs', 15_000, 100);
      await client.recurring.pause('counted');
      const before = await runs();
      await client.recurring.resume('counted');
      await waitFor(async () => (await client.recurring.get('counted'))?.health === 'ended', 'the schedule to end', 15_000, 200);
      await new Promise((r) => setTimeout(r, 1500));
      // Resume started BullMQ's count again: 3 more runs after the pause (5 in all) before the fix.
      assert.equal(await runs(), 3, `3 runs in all (${before} before the pause)`);
      await client.recurring.pause('counted');
      await assert.rejects(() => client.recurring.resume('counted'), /has run its limit of 3 ticks/);
    } finally {
      await lifecycle.shutdown();
    }
  });
});
