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
      assert.notEqual(listed.get('later')?.health, 'overdue');
    } finally {
      await lifecycle.shutdown();
    }
  });
});
