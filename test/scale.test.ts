import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Cron } from '../src/cron.js';
import type { ScheduleSpec } from '../src/schedules.js';
import { useTestCenter } from './support/center.js';
import { CenterProcess, waitFor } from './support/processes.js';
import { duplicateRuns, helloRuns, missingSeconds, ticksOf } from './support/scale.js';

/*
 * Horizontal scale on one Redis: several worker processes share the work and run each job once;
 * several producers start, crash, restart and re-sync while a per-second schedule keeps firing
 * once per second; producers of different services keep each other's schedules.
 */

const center = useTestCenter();
// Processes started outside a group (restarted producers), stopped after the file.
const extra: CenterProcess[] = [];
after(() => Promise.all(extra.map((p) => p.stop(5000))));
const setup = (more: Record<string, string> = {}) => center.setup(more);

/** A small seeded PRNG (mulberry32) so a failing chaos run can be replayed with SCALE_SEED. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('horizontal workers', () => {
  for (const n of [1, 2, 4]) {
    it(`${n} worker process${n > 1 ? 'es' : ''}: every job runs exactly once${n > 1 ? ', spread over all of them' : ''}`, async (t) => {
      const { group, client } = await setup({ WORKER_CONCURRENCY: '2' });
      const workers = Array.from({ length: n }, () => group.start('worker'));
      await Promise.all(workers.map((w) => w.waitForMessage('Worker started', 30_000)));

      // A burst (jobs waiting before anyone is free) and a trickle (each add wakes one blocked worker).
      const ids: string[] = [];
      const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => client.enqueue('hello-world', {}, { jobId: `burst-${i}` })));
      ids.push(...burst.map((j) => j.id));
      for (let i = 0; i < 30; i++) {
        ids.push((await client.enqueue('hello-world', {}, { jobId: `trickle-${i}` })).id);
        await sleep(30);
      }
      const counts = await waitFor(
        async () => {
          const c = await client.queues.get('default').getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
          return c.completed + c.failed === ids.length ? c : undefined;
        },
        `all ${ids.length} jobs finished`,
        30_000,
        100,
      );
      assert.equal(counts.failed, 0);
      // Give a duplicate (a stalled job run again) time to show up in the logs.
      await sleep(300);
      const runs = helloRuns(workers);
      assert.deepEqual(duplicateRuns(runs), [], 'no job ran twice');
      assert.deepEqual([...runs.keys()].sort(), [...ids].sort(), 'each enqueued job ran, and nothing else');
      const perWorker = workers.map((w) => [...runs.values()].filter((where) => where[0] === w.name).length);
      t.diagnostic(`jobs per worker process: ${perWorker.join(', ')}`);
      for (const [i, count] of perWorker.entries()) assert.ok(count > 0, `worker ${i} ran no job (${perWorker.join(', ')})`);
    });
  }

  it('WORKER_QUEUES gives a queue its own worker pool', async () => {
    const { group, client } = await setup();
    const general = group.start('worker', { WORKER_QUEUES: 'default' });
    const heavy = group.start('worker', { WORKER_QUEUES: 'batch' });
    assert.deepEqual((await general.waitForMessage('Worker started', 30_000)).queues, ['default']);
    assert.deepEqual((await heavy.waitForMessage('Worker started', 30_000)).queues, ['batch']);
    const jobs = [
      ...(await Promise.all(Array.from({ length: 4 }, () => client.enqueue('sleep', { ms: 50 })))),
      ...(await Promise.all(Array.from({ length: 6 }, () => client.enqueue('hello-world', {})))),
    ];
    for (const job of jobs) {
      await waitFor(async () => (await client.getJob(job))?.state === 'completed', `${job.queue}/${job.id} completed`, 30_000, 100);
    }
    assert.equal(helloRuns([general]).size, 6, 'the default pool ran the hello-world jobs');
    assert.equal(helloRuns([heavy]).size, 0, 'the batch pool ran none of them');
  });
});

describe('several producers', () => {
  it('three producers starting, crashing, restarting and re-syncing at random: the per-second heartbeat fires once every second', { timeout: 120_000 }, async (t) => {
    const { group } = await setup({ PRODUCER_RESYNC_MS: '1000' });
    const seed = Number(process.env.SCALE_SEED ?? Date.now() % 1_000_000);
    const rand = random(seed);
    t.diagnostic(`chaos seed ${seed} (replay with SCALE_SEED=${seed})`);
    const workers = [group.start('worker'), group.start('worker')];
    const producers = [group.start('producer'), group.start('producer'), group.start('producer')];
    await Promise.all(workers.map((w) => w.waitForMessage('Worker started', 30_000)));
    await waitFor(() => ticksOf(helloRuns(workers), 'heartbeat').length >= 1, 'the first heartbeat', 30_000, 100);

    const actions: string[] = [];
    const chaosStart = Date.now();
    while (ticksOf(helloRuns(workers), 'heartbeat').filter((tick) => tick >= chaosStart).length < 22) {
      await sleep(300 + rand() * 1500);
      const i = Math.floor(rand() * producers.length);
      const p = producers[i]!;
      const roll = rand();
      if (!p.running) {
        producers[i] = group.start('producer');
        actions.push(`start#${i}`);
      } else if (roll < 0.4) {
        p.kill('SIGKILL'); // crash: no clean shutdown, maybe in the middle of a sync
        await p.exited;
        actions.push(`kill#${i}`);
        if (rand() < 0.5) {
          producers[i] = group.start('producer');
          actions.push(`start#${i}`);
        }
      } else if (roll < 0.8) {
        await p.stop();
        producers[i] = group.start('producer'); // a restart: a full sync (upsert of every declared schedule)
        actions.push(`restart#${i}`);
      } else {
        producers[i] = group.start('producer'); // one more replica: four at once for a while
        extra.push(p);
        actions.push(`add#${i}`);
        await sleep(rand() * 1000);
        await p.stop();
      }
      assert.ok(Date.now() - chaosStart < 90_000, 'the heartbeat kept ticking during the chaos');
    }
    const chaosEnd = Date.now();
    // Let every tick that was due during the chaos finish.
    await waitFor(() => ticksOf(helloRuns(workers), 'heartbeat').filter((tick) => tick >= chaosEnd + 1000).length >= 1, 'a heartbeat after the chaos', 20_000, 100);

    const runs = helloRuns(workers);
    const ticks = ticksOf(runs, 'heartbeat');
    const during = ticks.filter((tick) => tick >= chaosStart && tick <= chaosEnd);
    t.diagnostic(`${actions.length} producer actions: ${actions.join(' ')}`);
    t.diagnostic(`${ticks.length} heartbeat ticks in all, ${during.length} during the chaos`);
    assert.ok(during.length >= 20, `at least 20 ticks during the chaos, got ${during.length}`);
    assert.deepEqual(duplicateRuns(runs), [], 'every tick ran once');
    assert.deepEqual(missingSeconds(ticks), [], 'no second was skipped');
    assert.ok(actions.length >= 8, `the producers were disturbed (${actions.length} actions)`);
  });

  it('producers of two services (different PRODUCER_ID, different schedule sets) never remove each other\'s schedules', { timeout: 90_000 }, async () => {
    const { env, group, client } = await setup();
    const daily = (id: string, hour: number): ScheduleSpec => ({ id, repeat: { cron: Cron.daily(hour) }, name: 'scheduler-test', data: {} });
    const service = (id: string, schedules: ScheduleSpec[]) => {
      const p = new CenterProcess(`producer:${id}`, 'test/fixtures/producer.ts', {
        ...env,
        PRODUCER_ID: id,
        FIXTURE_SCHEDULES: JSON.stringify(schedules),
      });
      extra.push(p);
      return p;
    };
    const ids = async () => (await client.recurring.list()).map((s) => `${s.id}@${s.owner ?? 'run-time'}`).sort();
    await client.recurring.upsert('made-at-run-time', { every: 3_600_000 }, 'scheduler-test', {});

    // Both services start at once.
    let billing = service('billing', [daily('invoices', 2), daily('dunning', 3)]);
    let reports = service('reports', [daily('weekly-report', 4)]);
    await Promise.all([billing.waitForMessage('Schedules synced', 30_000), reports.waitForMessage('Schedules synced', 30_000)]);
    assert.deepEqual(await ids(), ['dunning@billing', 'invoices@billing', 'made-at-run-time@run-time', 'weekly-report@reports']);

    // billing drops "dunning" while reports keeps running: only billing's own schedule goes.
    await billing.stop();
    billing = service('billing', [daily('invoices', 2)]);
    assert.deepEqual((await billing.waitForMessage('Schedules synced', 30_000)).removed, ['dunning']);
    assert.deepEqual(await ids(), ['invoices@billing', 'made-at-run-time@run-time', 'weekly-report@reports']);

    // reports adds one and restarts; the default producer (this repository's producers/main.ts) joins.
    await reports.stop();
    reports = service('reports', [daily('weekly-report', 4), daily('monthly-report', 5)]);
    const main = group.start('producer');
    assert.deepEqual((await reports.waitForMessage('Schedules synced', 30_000)).removed, []);
    assert.deepEqual((await main.waitForMessage('Schedules synced', 30_000)).removed, []);
    assert.deepEqual(await ids(), [
      'heartbeat@default',
      'invoices@billing',
      'made-at-run-time@run-time',
      'monthly-report@reports',
      'scheduler-test@default',
      'weekly-report@reports',
    ]);

    // A service that now declares nothing removes only what it declared.
    await billing.stop();
    billing = service('billing', []);
    assert.deepEqual((await billing.waitForMessage('Schedules synced', 30_000)).removed, ['invoices']);
    assert.deepEqual(await ids(), [
      'heartbeat@default',
      'made-at-run-time@run-time',
      'monthly-report@reports',
      'scheduler-test@default',
      'weekly-report@reports',
    ]);
  });
});
