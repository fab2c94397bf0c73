import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import schedulerTest from '../workers/handlers/scheduler-test.js';
import sleep from '../workers/handlers/sleep.js';
import { silentLogger, testConfig, useTestCenter } from './support/center.js';
import { waitFor } from './support/processes.js';

/*
 * Schedule semantics at the edges: a tick that is already due when its schedule is paused,
 * removed or moved to another queue; the last tick of a window that has not run yet.
 */

const center = useTestCenter();

describe('schedule edges', () => {
  it('a due tick waiting for a worker does not run after its schedule is paused, removed or moved to another queue', async () => {
    const { env, client } = await center.setup();
    // An interval schedule's first tick is due at once: with no worker, it waits in `wait`.
    for (const id of ['paused', 'removed', 'moved', 'kept']) await client.recurring.upsert(id, { every: 3_600_000 }, 'scheduler-test', {});
    await client.recurring.pause('paused');
    await client.recurring.remove('removed');
    await client.recurring.upsert('moved', { every: 3_600_000 }, 'sleep', { ms: 1 });
    const left = (await client.queues.get('default').getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => j.id);
    assert.deepEqual(left.map((id) => String(id).split(':')[1]), ['kept'], `ticks left in default: ${left.join(', ')}`);

    const lifecycle = new Lifecycle(silentLogger);
    try {
      await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [schedulerTest, sleep] });
      const done = async (queue: 'default' | 'batch') => (await client.queues.get(queue).getJobs(['completed'])).map((j) => j.repeatJobKey);
      await waitFor(async () => ((await done('default')).includes('kept') && (await done('batch')).includes('moved')) || undefined, 'the kept and moved ticks', 10_000, 50);
      assert.deepEqual(await done('default'), ['kept'], 'only the schedule still there ran in default');
      assert.deepEqual(await client.recurring.runs('paused'), [], 'the paused schedule did not run');
      assert.equal((await client.recurring.get('paused'))?.health, 'paused');
    } finally {
      await lifecycle.shutdown();
    }
  });

  it('a window whose last tick has not run yet is overdue, not ended, until that tick runs', async () => {
    const { env, client } = await center.setup();
    await client.recurring.upsert('once', { cron: '* * * * * *', limit: 1 }, 'scheduler-test', {}, { grace: 1000 });
    const end = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000).toISOString();
    await client.recurring.upsert('until', { every: 3_600_000, endDate: end }, 'scheduler-test', {}, { grace: 1000 });
    const health = async () => new Map((await client.recurring.list()).map((s) => [s.id, s.health]));
    // No worker: each tick is due and waits. They answered `ended` here, so no alert ever came.
    await waitFor(async () => {
      const h = await health();
      return (h.get('once') === 'overdue' && h.get('until') === 'overdue' && Date.now() > Date.parse(end)) || undefined;
    }, 'both overdue past the end of their window', 10_000, 100);
    assert.equal((await client.recurring.get('once'))?.health, 'overdue');

    const lifecycle = new Lifecycle(silentLogger);
    try {
      await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [schedulerTest] });
      await waitFor(async () => ((await client.recurring.runs('once')).length > 0 && (await client.recurring.runs('until')).length > 0) || undefined, 'the last ticks ran', 10_000, 50);
      await waitFor(async () => {
        const h = await health();
        return (h.get('once') === 'ended' && h.get('until') === 'ended') || undefined;
      }, 'both ended once their last tick ran', 10_000, 50);
      assert.equal((await client.recurring.runs('once')).length, 1);
    } finally {
      await lifecycle.shutdown();
    }
  });
});
