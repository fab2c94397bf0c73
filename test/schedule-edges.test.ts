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
});
