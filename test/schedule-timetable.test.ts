import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { nextRuns } from '../src/cron.js';
import { repeatStrategy } from '../src/cron/repeat-strategy.js';
import { Lifecycle } from '../src/lifecycle.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import helloWorld from '../workers/handlers/hello-world.js';
import { silentLogger, testConfig, useTestCenter } from './support/center.js';
import { runCli } from './support/cli.js';
import { waitFor } from './support/processes.js';

/*
 * The timetable on real Redis and real processes: BullMQ computes ticks with the center's repeat
 * strategy in queues and workers, `H` is seeded by the schedule id (same next run from every
 * upsert and every process), and listings describe patterns in words.
 */

const center = useTestCenter();

async function cli(env: Record<string, string>, args: string[]): Promise<Record<string, unknown>> {
  const run = await runCli(args, env);
  if (run.code !== 0) throw new Error(`cli ${args.join(' ')} exited ${run.code}\n${run.stderr}`);
  return run.json();
}

describe('schedule timetable', () => {
  it('H takes the same values on every upsert and in every process; listings describe the pattern', async () => {
    const { env, client } = await center.setup();
    const first = await client.recurring.upsert('nightly-h', { cron: '0 H * * *', tz: 'UTC' }, 'hello-world', {});
    const expected = nextRuns('0 H * * *', 1, 'UTC', new Date(), { hashSeed: 'nightly-h' })[0]!.toISOString();
    assert.equal(first.next, expected);
    for (let i = 0; i < 3; i++) {
      const again = await client.recurring.upsert('nightly-h', { cron: '0 H * * *', tz: 'UTC' }, 'hello-world', {});
      assert.equal(again.next, first.next, `upsert ${i + 2}`);
    }
    // Another process (the CLI) upserting the same schedule computes the same tick.
    const fromCli = await cli(env, ['recurring', 'upsert', 'nightly-h', 'hello-world', '--cron', '0 H * * *', '--tz', 'UTC']);
    assert.equal(fromCli.next, first.next);
    const hour = new Date(first.next!).getUTCHours();
    assert.equal(fromCli.description, `At ${String(hour).padStart(2, '0')}:00, every day (UTC)`);
    // A different id hashes on its own; the listing (client and CLI) carries descriptions.
    await client.recurring.upsert('paris', { cron: '30 2 * * *', tz: 'Europe/Paris', dst: { gap: 'skip' } }, 'hello-world', {});
    await client.recurring.upsert('beat', { every: 5000 }, 'hello-world', {});
    const listed = (await cli(env, ['recurring', 'list'])) as unknown as { id: string; description: string; dst?: unknown }[];
    const byId = new Map(listed.map((s) => [s.id, s]));
    assert.equal(byId.get('paris')?.description, 'At 02:30, every day (Europe/Paris)');
    assert.deepEqual(byId.get('paris')?.dst, { gap: 'skip' });
    assert.equal(byId.get('beat')?.description, 'Every 5 seconds');
  });

  it('refuses a bad DST policy or a policy on an interval schedule, naming the field', async () => {
    const { client } = await center.setup();
    await assert.rejects(
      () => client.recurring.upsertUnchecked('x', { cron: '30 2 * * *', tz: 'Europe/Paris', dst: { gap: 'later' } } as never, 'hello-world', {}),
      (e: Error & { details?: { field: string }[] }) => e.details?.[0]?.field === 'dst.gap',
    );
    await assert.rejects(
      () => client.recurring.upsertUnchecked('x', { every: 1000, dst: { gap: 'skip' } } as never, 'hello-world', {}),
      (e: Error & { details?: { field: string }[] }) => e.details?.[0]?.field === 'dst',
    );
    assert.deepEqual(await client.recurring.list(), []);
  });

  it('workers add each next tick with the center strategy and the schedule seed (H/3 seconds)', async () => {
    const { env, client } = await center.setup();
    assert.equal(client.queues.get('default').opts.settings?.repeatStrategy, repeatStrategy);
    await client.recurring.upsert('hashed', { cron: 'H/3 * * * * *', tz: 'UTC' }, 'hello-world', {});
    const lifecycle = new Lifecycle(silentLogger);
    try {
      const runtime = await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [helloWorld] });
      assert.equal(runtime.workers[0]!.opts.settings?.repeatStrategy, repeatStrategy);
      const tickOf = (j: Job) => Number(String(j.id).split(':').pop());
      const runs = await waitFor(async () => {
        const jobs = (await client.queues.get('default').getJobs(['completed'])).filter((j) => j.repeatJobKey === 'hashed');
        return jobs.length >= 3 ? jobs.map(tickOf).sort((a, b) => a - b) : undefined;
      }, 'three ticks of the hashed schedule', 30_000);
      const offset = new Date(nextRuns('H/3 * * * * *', 1, 'UTC', new Date(), { hashSeed: 'hashed' })[0]!).getUTCSeconds() % 3;
      for (const t of runs) assert.equal(new Date(t).getUTCSeconds() % 3, offset, `tick ${new Date(t).toISOString()}`);
      const job = (await client.queues.get('default').getJobs(['delayed', 'waiting'])).find((j) => j.repeatJobKey === 'hashed');
      assert.equal(((job?.opts as { repeat?: { hashSeed?: string } } | undefined)?.repeat)?.hashSeed, 'hashed', 'the seed travels with each tick');
    } finally {
      await lifecycle.shutdown();
    }
  });
});
