import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cron } from '../src/cron.js';
import { ValidationError } from '../src/errors.js';
import { useTestCenter } from './support/center.js';
import { waitFor, type CenterProcess } from './support/processes.js';

const center = useTestCenter();
const setup = (extra: Record<string, string> = {}) => center.setup(extra);

/** Heartbeat executions recorded by the handlers of `workers`: job id → how many times it ran, and where. */
function heartbeats(workers: CenterProcess[]): Map<string, string[]> {
  const runs = new Map<string, string[]>();
  for (const w of workers) {
    for (const line of w.lines) {
      if (typeof line.msg === 'string' && line.msg.startsWith('Hello World!')) {
        const id = String(line.job);
        runs.set(id, [...(runs.get(id) ?? []), w.name]);
      }
    }
  }
  return runs;
}

describe('declared schedules', () => {
  it('three producers and two workers: the per-second heartbeat fires once per second, every second', async () => {
    const { group } = await setup();
    const producers = [group.start('producer'), group.start('producer'), group.start('producer')];
    const workers = [group.start('worker'), group.start('worker')];
    await Promise.all(producers.map((p) => p.waitForMessage('Schedules synced')));
    await Promise.all(workers.map((w) => w.waitForMessage('Worker started')));
    await waitFor(() => heartbeats(workers).size >= 8, '8 heartbeats', 20_000);
    const runs = heartbeats(workers);
    const ticks = [...runs.keys()].map((id) => Number(id.split(':').at(-1))).sort((a, b) => a - b);
    for (const [id, where] of runs) assert.equal(where.length, 1, `${id} ran ${where.length} times (${where.join(', ')})`);
    for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! - ticks[i - 1]!, 1000, `ticks ${ticks.join(', ')}`);
    assert.ok(producers.every((p) => p.running));
  });

  it('a producer sync upserts its schedules, prunes the ones it no longer declares, and keeps run-time schedules', async () => {
    const { group, client } = await setup();
    // What an earlier version of this producer declared, plus a schedule another service made at run time.
    await client.schedules.sync('default', [
      { id: 'retired-report', repeat: { cron: Cron.daily(3) }, name: 'scheduler-test', data: {} },
    ]);
    await client.recurring.upsert('made-by-a-service', { every: 60_000 }, 'scheduler-test', { note: 'keep me' });
    const producer = group.start('producer');
    const synced = await producer.waitForMessage('Schedules synced');
    assert.deepEqual(synced.removed, ['retired-report']);
    const ids = (await client.recurring.list()).map((s) => s.id).sort();
    assert.deepEqual(ids, ['heartbeat', 'made-by-a-service', 'scheduler-test']);
    const heartbeat = await client.recurring.get('heartbeat');
    assert.equal(heartbeat?.cron, '* * * * * *');
    assert.equal(heartbeat?.owner, 'default');
    assert.ok(heartbeat?.next, 'has a next run time');
  });

  it('producers of two services (different PRODUCER_ID) do not prune each other', async () => {
    const { client } = await setup();
    await client.schedules.sync('billing', [{ id: 'invoices', repeat: { cron: Cron.daily(2) }, name: 'scheduler-test', data: {} }]);
    await client.schedules.sync('reports', [{ id: 'weekly', repeat: { cron: Cron.weekly('monday') }, name: 'scheduler-test', data: {} }]);
    await client.schedules.sync('billing', [{ id: 'invoices', repeat: { cron: Cron.daily(4) }, name: 'scheduler-test', data: {} }]);
    const all = await client.recurring.list();
    assert.deepEqual(all.map((s) => s.id).sort(), ['invoices', 'weekly']);
    assert.equal(all.find((s) => s.id === 'invoices')?.cron, '0 4 * * *');
    // The same id declared by both: the sync says whose declaration it replaced (the producer warns).
    const clash = await client.schedules.sync('reports', [
      { id: 'weekly', repeat: { cron: Cron.weekly('monday') }, name: 'scheduler-test', data: {} },
      { id: 'invoices', repeat: { cron: Cron.daily(6) }, name: 'scheduler-test', data: {} },
    ]);
    assert.deepEqual(clash.takenOver, [{ id: 'invoices', from: 'billing' }]);
    assert.deepEqual((await client.schedules.sync('reports', [{ id: 'weekly', repeat: { cron: Cron.weekly('monday') }, name: 'scheduler-test', data: {} }])).takenOver, []);
  });

  it('a sync that changes nothing leaves the pending tick alone, even one that is due and not yet picked up', async () => {
    const { client } = await setup();
    const spec = { id: 'every-second', repeat: { cron: '* * * * * *' }, name: 'scheduler-test', data: {} };
    await client.schedules.sync('default', [spec]);
    const pending = (await client.recurring.get('every-second'))!.next!;
    // No worker runs: wait until the pending tick is due, so it waits to be picked up.
    await waitFor(() => Date.now() > Date.parse(pending) + 50, 'the pending tick to be due', 5000, 20);
    // A producer restart at this instant: an upsert would replace the due tick by the next one.
    await client.schedules.sync('default', [spec]);
    const queue = client.queues.get('default');
    const id = `repeat:every-second:${Date.parse(pending)}`;
    assert.ok(await queue.getJob(id), `the due tick ${id} is still there`);
    assert.equal((await client.recurring.get('every-second'))!.next, pending);
    // A changed definition is an update: it replaces the pending tick.
    await client.schedules.sync('default', [{ ...spec, data: { note: 'changed' } }]);
    assert.deepEqual((await client.recurring.get('every-second'))!.data, { note: 'changed' });
  });

  it('a schedule re-created after its definitions were lost (FLUSHALL) is still pruned once its producer stops declaring it', async () => {
    const { client } = await setup();
    const { healMissing } = await import('../src/schedules.js');
    const kept = { id: 'kept', repeat: { cron: Cron.daily(3) }, name: 'scheduler-test', data: {} };
    const retired = { id: 'retired', repeat: { cron: Cron.daily(4) }, name: 'scheduler-test', data: {} };
    await client.schedules.sync('app', [kept, retired]);
    // Everything gone (FLUSHALL, a Redis restart without persistence): the running producer heals.
    await client.queues.redis.flushdb();
    assert.deepEqual(await healMissing(client.schedules, 'app', [kept, retired]), { healed: ['kept', 'retired'], failed: [] });
    assert.equal((await client.recurring.get('retired'))?.owner, 'app');
    // The next version of the producer no longer declares `retired`: its sync must prune it.
    const synced = await client.schedules.sync('app', [kept]);
    assert.deepEqual(synced.removed, ['retired']);
    assert.deepEqual((await client.recurring.list()).map((s) => s.id), ['kept']);
    // Only the set of declared ids lost (DEL of that key): the check records it again.
    await client.schedules.sync('app', [kept, retired]);
    const declaredKeys = await client.queues.redis.keys('*declared*');
    assert.equal(declaredKeys.length, 1, declaredKeys.join(', '));
    await client.queues.redis.del(declaredKeys[0]!);
    assert.deepEqual(await healMissing(client.schedules, 'app', [kept, retired]), { healed: [], failed: [] });
    assert.deepEqual((await client.schedules.sync('app', [kept])).removed, ['retired']);
  });

  it('rejects an invalid declaration before writing anything', async () => {
    const { client } = await setup();
    await assert.rejects(
      client.schedules.sync('default', [{ id: 'bad', repeat: { cron: '61 * * * *' }, name: 'scheduler-test', data: {} }]),
      (e: unknown) => e instanceof ValidationError && e.details[0]?.field === 'cron',
    );
    await assert.rejects(
      client.schedules.sync('default', [{ id: 'bad', repeat: { every: 1000 }, name: 'sleep', data: { ms: 'x' } }]),
      (e: unknown) => e instanceof ValidationError && e.details[0]?.field === 'data.ms',
    );
    assert.deepEqual(await client.recurring.list(), []);
  });
});
