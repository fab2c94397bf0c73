import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { tickOf } from '../src/schedules/history.js';
import { useTestCenter } from './support/center.js';
import { waitFor } from './support/processes.js';

/*
 * `then` after every run of a schedule, on real processes: 20 ticks (limit 20) on two workers,
 * one of which SIGKILLs itself right after a run completed and before its continuation was
 * released (TEST_CRASH_AT=release:after-complete). Expected: 20 runs and 20 continuations, each
 * linked to its own tick, none twice.
 */

const center = useTestCenter();

describe('then: a job after every run of a schedule', () => {
  it('20 ticks with a worker SIGKILLed between a run and its release: 20 runs, 20 continuations, each of its own tick', async () => {
    const { client, group } = await center.setup({ CONTINUATION_SWEEP_MS: '500' });
    const crashing = group.start('worker', { TEST_CRASH_AT: 'release:after-complete' });
    const steady = group.start('worker');
    await Promise.all([crashing.waitForMessage('Worker started', 60_000), steady.waitForMessage('Worker started', 60_000)]);
    const info = await client.recurring.upsert('chain', { every: 1000, limit: 20 }, 'sleep', { ms: 300, result: 'ran' }, {
      then: { name: 'hello-world', on: 'finished' },
    });
    assert.deepEqual(info.then, { name: 'hello-world', data: {}, on: 'finished' });

    const runs = await waitFor(async () => {
      const done = (await client.queues.get('batch').getJobs(['completed'])).filter((j) => j?.repeatJobKey === 'chain');
      return done.length >= 20 ? done : undefined;
    }, '20 runs of the schedule', 120_000, 500);
    const conts = await waitFor(async () => {
      const done = (await client.queues.get('default').getJobs(['completed'])).filter((j) => String(j?.id).startsWith('cont-then-chain-'));
      return done.length >= 20 ? done : undefined;
    }, '20 continuations', 120_000, 500);
    const crashed = await Promise.race([crashing.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 100))]);
    assert.equal(crashed?.signal, 'SIGKILL', 'one worker died between a run and its release');
    await new Promise((r) => setTimeout(r, 2000)); // nothing more may come

    const ticks = (await client.queues.get('batch').getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']))
      .filter((j): j is Job => j?.repeatJobKey === 'chain')
      .map(tickOf);
    assert.equal(new Set(ticks).size, 20, 'limit 20: 20 ticks');
    assert.equal(runs.length, 20);
    const all = (await client.queues.get('default').getJobs(['completed', 'failed', 'active', 'waiting', 'delayed'])).filter((j) =>
      String(j?.id).startsWith('cont-then-chain-'),
    );
    assert.equal(all.length, 20, `20 continuations, no duplicate: ${all.length}`);
    const byParent = new Map(runs.map((r) => [String(r.id), tickOf(r)]));
    for (const c of conts) {
      const parent = (c.opts as { jc?: { parent: { id: string; state: string } } }).jc?.parent;
      assert.ok(parent && byParent.has(parent.id), `continuation ${c.id} has a run of the schedule as its parent`);
      assert.equal(String(c.id), `cont-then-chain-${byParent.get(parent.id)}`, 'linked to its own tick');
      assert.equal(parent.state, 'completed');
    }
    assert.equal(new Set(conts.map((c) => (c.opts as { jc: { parent: { id: string } } }).jc.parent.id)).size, 20);
  });

  it('then is validated (job name, payload, on) before anything is written', async () => {
    const { client } = await center.setup();
    const fieldOf = (e: Error & { details?: { field: string }[] }) => e.details?.map((d) => d.field).join(',') ?? '';
    await assert.rejects(
      // @ts-expect-error an unknown name, on purpose: the run-time check is under test
      () => client.recurring.upsert('x', { every: 1000 }, 'hello-world', {}, { then: { name: 'no-such-job' } }),
      (e: Error) => /no-such-job/.test(e.message),
    );
    await assert.rejects(
      // @ts-expect-error a wrong payload, on purpose: the run-time check is under test
      () => client.recurring.upsert('x', { every: 1000 }, 'hello-world', {}, { then: { name: 'sleep', data: { ms: 'long' } } }),
      (e: Error) => /ms/.test(fieldOf(e) + e.message),
    );
    await assert.rejects(
      () => client.recurring.upsert('x', { every: 1000 }, 'hello-world', {}, { then: { name: 'sleep', data: { ms: 1 }, on: 'sometimes' as 'success' } }),
      (e: Error & { details?: { field: string }[] }) => /then\.on/.test(fieldOf(e)),
    );
    assert.deepEqual(await client.recurring.list(), []);
  });
});
