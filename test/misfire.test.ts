import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { catchUpOf } from '../src/schedules/misfire.js';
import { tickOf } from '../src/schedules/history.js';
import { useTestCenter } from './support/center.js';
import { waitFor } from './support/processes.js';

/*
 * Misfire policies on real processes: three per-second schedules (once, skip, all) run on a
 * worker, the worker is stopped across at least 5 ticks, then a new one starts. Expected:
 * once: one late run; skip: no late run, every missed tick recorded as missed; all: every missed
 * tick runs once, in order, with its own tick in ctx.tick; all with maxCatchUp 2: the 2 most recent.
 */

const center = useTestCenter();
const SECOND = 1000;

/** The tick of a run: a BullMQ scheduler job or a catch-up job. */
const tickOfRun = (j: Job): number => catchUpOf(j)?.tick ?? tickOf(j);
const scheduleOf = (j: Job): string | undefined => j.repeatJobKey ?? catchUpOf(j)?.schedule;
const ran = (j: Job): boolean => !(j.returnvalue as { skipped?: boolean } | null)?.skipped;

describe('misfire policies', () => {
  it('once, skip and all after a worker outage across 5+ ticks of a 1-second schedule', async () => {
    const { client, group } = await center.setup({ WORKER_CONCURRENCY: '1' });
    for (const misfire of ['once', 'skip', 'all'] as const) {
      await client.recurring.upsert(`m-${misfire}`, { cron: '* * * * * *' }, 'scheduler-test', { note: misfire }, { misfire });
    }
    // all, capped: of the 5+ missed ticks only the 2 most recent run late.
    await client.recurring.upsert('m-capped', { cron: '* * * * * *' }, 'scheduler-test', { note: 'capped' }, { misfire: 'all', maxCatchUp: 2 });
    const first = group.start('worker');
    await first.waitForMessage('Worker started', 30_000);
    const runsOf = async (): Promise<Job[]> => (await client.queues.get('default').getJobs(['completed'])).filter(Boolean);
    await waitFor(async () => {
      const done = await runsOf();
      return ['once', 'skip', 'all', 'capped'].every((m) => done.some((j) => scheduleOf(j) === `m-${m}`)) || undefined;
    }, 'a run of each schedule before the outage', 30_000);
    await first.stop();
    const stoppedAt = Date.now();
    // Long enough that at least 4 whole ticks fall well inside the outage (see `missed` below),
    // however fast the next worker starts.
    await new Promise((r) => setTimeout(r, 7.5 * SECOND));
    const second = group.start('worker');
    const started = await second.waitForMessage('Worker started', 60_000);
    const restartedAt = Number(started.time);
    assert.ok(restartedAt - stoppedAt >= 5 * SECOND);
    // Whole-second ticks certainly missed: after the first worker stopped, well before the second started.
    const missed: number[] = [];
    for (let t = Math.ceil((stoppedAt + SECOND) / SECOND) * SECOND; t < restartedAt - 1.5 * SECOND; t += SECOND) missed.push(t);
    assert.ok(missed.length >= 4, `missed ticks ${missed.length}`);
    // A late run: started by the second worker (the first is gone after stoppedAt) for a tick before it came.
    const late = (j: Job) => ran(j) && j.processedOn! > stoppedAt && tickOfRun(j) < restartedAt - 1.5 * SECOND;

    // Regular runs again after the restart, for every schedule.
    const after = await waitFor(async () => {
      const done = await runsOf();
      const ok = ['once', 'skip', 'all', 'capped'].every((m) => done.some((j) => scheduleOf(j) === `m-${m}` && ran(j) && tickOfRun(j) > restartedAt + SECOND));
      return ok ? done : undefined;
    }, 'regular ticks after the restart', 60_000);
    // The catch-up of `all` may still be running: wait until every missed tick has run.
    const all = await waitFor(async () => {
      const done = await runsOf();
      const ticks = new Set(done.filter((j) => scheduleOf(j) === 'm-all' && ran(j)).map(tickOfRun));
      return missed.every((t) => ticks.has(t)) ? done : undefined;
    }, 'every missed tick of the all schedule', 60_000).catch(() => after);

    // once: exactly one late run for the whole outage.
    const onceLate = after.filter((j) => scheduleOf(j) === 'm-once' && late(j));
    assert.equal(onceLate.length, 1, `once: ${onceLate.map((j) => j.id).join(', ')}`);

    // skip: nothing ran late; every missed tick is in the history as missed.
    const skipLate = after.filter((j) => scheduleOf(j) === 'm-skip' && late(j));
    assert.deepEqual(skipLate.map((j) => j.id), [], 'skip runs no tick late');
    const history = await client.recurring.runs('m-skip', { limit: 100 });
    const missedInHistory = new Set(history.filter((r) => r.outcome === 'missed').map((r) => Date.parse(r.tick)));
    for (const t of missed) assert.ok(missedInHistory.has(t), `skip: tick ${new Date(t).toISOString()} recorded as missed`);

    // all: each missed tick ran exactly once, in tick order, with its own tick in ctx.tick.
    const allRuns = all.filter((j) => scheduleOf(j) === 'm-all' && ran(j));
    for (const t of missed) {
      const runs = allRuns.filter((j) => tickOfRun(j) === t);
      assert.equal(runs.length, 1, `all: tick ${new Date(t).toISOString()} ran ${runs.length} times`);
      assert.equal((runs[0]!.returnvalue as { tick: string }).tick, new Date(t).toISOString(), 'ctx.tick is the missed tick');
    }
    const caughtUp = allRuns.filter(late).sort((a, b) => tickOfRun(a) - tickOfRun(b));
    assert.ok(caughtUp.length >= missed.length);
    for (let i = 1; i < caughtUp.length; i++) {
      assert.ok(caughtUp[i]!.processedOn! >= caughtUp[i - 1]!.processedOn!, `all: catch-up runs start in tick order`);
    }
    const allHistory = await client.recurring.runs('m-all', { limit: 100 });
    for (const t of missed) {
      assert.ok(allHistory.some((r) => Date.parse(r.tick) === t && r.outcome === 'completed'), `all: history has tick ${new Date(t).toISOString()}`);
    }

    // all with maxCatchUp 2: exactly 2 late runs, the most recent missed ticks; older ones are
    // recorded as missed (the first missed tick may be the pending job itself, which is skipped).
    // Only the outage's catch-ups: the ones the second worker added when it found the stale tick,
    // together (one decision, one timestamp give or take). On a loaded machine a worker that picks
    // a tick up more than a period late also catches up before or after the outage, which is the
    // policy working, not part of this count.
    const isCatchUp = (j: Job) => scheduleOf(j) === 'm-capped' && String(j.id).startsWith('catchup-') && tickOfRun(j) > stoppedAt;
    await waitFor(async () => (await runsOf()).filter(isCatchUp).length >= 2 || undefined, 'the capped catch-up runs', 30_000);
    const afterOutage = (await runsOf()).filter((j) => isCatchUp(j) && ran(j));
    const decidedAt = Math.min(...afterOutage.map((j) => j.timestamp));
    const cappedLate = afterOutage.filter((j) => j.timestamp - decidedAt < 500).sort((a, b) => tickOfRun(a) - tickOfRun(b));
    assert.equal(cappedLate.length, 2, `capped: late runs ${cappedLate.map((j) => j.id).join(', ')}`);
    const oldestCaughtUp = tickOfRun(cappedLate[0]!);
    assert.ok(missed.filter((t) => t >= oldestCaughtUp).length <= 2, 'capped: the late runs are the most recent missed ticks');
    const cappedHistory = await client.recurring.runs('m-capped', { limit: 100 });
    for (const t of missed.slice(1).filter((x) => x < oldestCaughtUp)) {
      assert.ok(cappedHistory.some((r) => Date.parse(r.tick) === t && r.outcome === 'missed'), `capped: tick ${new Date(t).toISOString()} recorded as missed`);
    }
  });

  it('all: an endDate passed during the outage still catches up the ticks before it, none after', async () => {
    // BullMQ schedules no next tick once the window has ended, and leaves `next` at the stale tick:
    // the missed ticks inside the window were neither run nor recorded as missed.
    const { client, group } = await center.setup({ WORKER_CONCURRENCY: '1' });
    const end = Math.ceil((Date.now() + 4.5 * SECOND) / SECOND) * SECOND;
    const endDate = new Date(end).toISOString();
    await client.recurring.upsert('end-every', { every: SECOND, endDate }, 'scheduler-test', {}, { misfire: 'all' });
    await client.recurring.upsert('end-cron', { cron: '* * * * * *', endDate }, 'scheduler-test', {}, { misfire: 'all' });
    const firstOf = async (id: string) => Date.parse((await client.recurring.get(id))!.next!);
    const windowOf = (first: number) => Array.from({ length: Math.floor((end - first) / SECOND) + 1 }, (_, k) => first + k * SECOND);
    const expected = { 'end-every': windowOf(await firstOf('end-every')), 'end-cron': windowOf(await firstOf('end-cron')) };
    // No worker until the window has ended: every tick of both schedules is missed.
    await waitFor(async () => Date.now() > end + 1.5 * SECOND || undefined, 'the end of the window', 10_000);
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started', 30_000);
    const runsOf = async (): Promise<Job[]> => (await client.queues.get('default').getJobs(['completed'])).filter(Boolean);
    for (const [id, ticks] of Object.entries(expected)) {
      const done = await waitFor(async () => {
        const mine = (await runsOf()).filter((j) => scheduleOf(j) === id && ran(j));
        return ticks.every((t) => mine.some((j) => tickOfRun(j) === t)) ? mine : undefined;
      }, `every tick of ${id} up to its endDate`, 20_000).catch(async () => (await runsOf()).filter((j) => scheduleOf(j) === id && ran(j)));
      const got = done.map(tickOfRun).sort((a, b) => a - b);
      assert.deepEqual(got.map((t) => new Date(t).toISOString()), ticks.map((t) => new Date(t).toISOString()), `${id}: each tick of the window ran once`);
      assert.ok(got.every((t) => t <= end), `${id}: nothing ran past endDate`);
    }
  });

  it('all with a limit: missed ticks are recorded as missed, not caught up, and the schedule runs its limit, no more', async () => {
    const { client, group } = await center.setup({ WORKER_CONCURRENCY: '1' });
    await client.recurring.upsert('limited', { every: SECOND, limit: 3 }, 'scheduler-test', {}, { misfire: 'all' });
    // No worker for 5 ticks: the first tick waits, the next 4 are missed.
    const createdAt = Date.now();
    await waitFor(async () => Date.now() > createdAt + 5.5 * SECOND || undefined, 'an outage of 5 ticks', 10_000);
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started', 30_000);
    const runsOf = async (): Promise<Job[]> => (await client.queues.get('default').getJobs(['completed', 'active', 'waiting', 'delayed'])).filter((j) => j && scheduleOf(j) === 'limited');
    await waitFor(async () => (await client.recurring.get('limited'))?.next === null || undefined, 'the schedule ended', 20_000);
    await waitFor(async () => (await client.queues.get('default').getActiveCount()) === 0 || undefined, 'no run active', 10_000);
    const ran = (await runsOf()).filter((j) => !(j.returnvalue as { skipped?: boolean } | null)?.skipped);
    // Catch-ups ran on top of BullMQ's own ticks: 7 runs and more.
    assert.equal(ran.length, 3, ran.map((j) => j.id).join(', '));
    assert.ok((await client.recurring.runs('limited')).some((r) => r.outcome === 'missed'), 'the missed ticks are in its history');
  });

  it('all: catch-up runs still queued when their schedule is paused or removed do not run', async () => {
    const { client, group } = await center.setup({ WORKER_CONCURRENCY: '1' });
    // 1 s runs on one worker: the catch-ups of a 6 s outage take several seconds to drain.
    for (const id of ['cu-pause', 'cu-remove']) {
      await client.recurring.upsert(id, { every: SECOND }, 'sleep', { ms: SECOND }, { misfire: 'all' });
    }
    await new Promise((r) => setTimeout(r, 6 * SECOND));
    const worker = group.start('worker');
    await worker.waitForMessage('Worker started', 30_000);
    const queue = client.queues.get('batch');
    const catchUps = async (states: ('waiting' | 'active' | 'completed')[]) =>
      (await queue.getJobs(states)).filter((j) => j && ['cu-pause', 'cu-remove'].includes(catchUpOf(j)?.schedule ?? ''));
    await waitFor(async () => {
      const queued = await catchUps(['waiting']);
      return ['cu-pause', 'cu-remove'].every((id) => queued.some((j) => catchUpOf(j)!.schedule === id)) || undefined;
    }, 'catch-up runs of both schedules queued', 30_000);
    await client.recurring.pause('cu-pause');
    await client.recurring.remove('cu-remove');
    const stoppedAt = Date.now();
    await waitFor(async () => ((await catchUps(['waiting', 'active'])).length === 0 ? true : undefined), 'the catch-up backlog drained', 30_000);
    // One catch-up may have been running already when the schedule stopped; none started after.
    const ranAfter = (await catchUps(['completed'])).filter((j) => ran(j) && j.processedOn! > stoppedAt);
    assert.deepEqual(ranAfter.map((j) => j.id), [], 'no catch-up run started after its schedule was paused or removed');
    assert.equal((await client.recurring.get('cu-pause'))!.paused, true);
    assert.deepEqual(await client.recurring.runs('cu-pause', { limit: 100 }).then((r) => r.filter((x) => Date.parse(x.finishedAt ?? '') > stoppedAt + SECOND)), []);
  });

  it('a run handed back by a stopping worker is restarted, not taken as a misfire (all: no tick runs twice; skip: not dropped)', async () => {
    // Runs of 4 s, one per second: a worker stopped with SHUTDOWN_TIMEOUT_MS 300 hands back the
    // ones it is running; the next worker restarts them more than a second after their ticks.
    const { client, group } = await center.setup({ WORKER_CONCURRENCY: '10', SHUTDOWN_TIMEOUT_MS: '300' });
    for (const misfire of ['all', 'skip'] as const) {
      await client.recurring.upsert(`hb-${misfire}`, { every: SECOND }, 'sleep', { ms: 4 * SECOND }, { misfire });
    }
    const first = group.start('worker');
    await first.waitForMessage('Worker started', 30_000);
    const queue = client.queues.get('batch');
    const jobsOf = async (id: string, states: ('active' | 'completed')[]) => (await queue.getJobs(states)).filter((j) => j && scheduleOf(j) === id);
    await waitFor(async () => {
      const active = await Promise.all(['hb-all', 'hb-skip'].map((id) => jobsOf(id, ['active'])));
      return active.every((a) => a.length >= 2) || undefined;
    }, 'two runs of each schedule active', 30_000);
    await first.stop();
    const second = group.start('worker');
    await second.waitForMessage('Worker started', 30_000);
    const restartedAt = Date.now();
    // Every handed-back run restarted and finished.
    const done = await waitFor(async () => {
      const completed = await Promise.all(['hb-all', 'hb-skip'].map((id) => jobsOf(id, ['completed'])));
      const late = completed.flat().filter((j) => j.attemptsStarted > 1);
      return late.length >= 4 && late.every((j) => j.finishedOn! > restartedAt) ? completed : undefined;
    }, 'the handed-back runs finished', 30_000);
    await client.recurring.pause('hb-all');
    await client.recurring.pause('hb-skip');
    const [all, skip] = done;
    // all: a tick the first worker had started runs again as its own job, not also as a catch-up.
    const perTick = new Map<number, string[]>();
    for (const j of all!.filter(ran)) perTick.set(tickOfRun(j), [...(perTick.get(tickOfRun(j)) ?? []), String(j.id)]);
    assert.deepEqual([...perTick.values()].filter((ids) => ids.length > 1), [], 'all: no tick ran twice');
    // skip: a handed-back run is restarted, not dropped as missed.
    const dropped = skip!.filter((j) => j.attemptsStarted > 1 && !ran(j));
    assert.deepEqual(dropped.map((j) => [j.id, (j.returnvalue as { reason?: string }).reason]), [], 'skip: handed-back runs ran');
  });

  it('misfire and maxCatchUp are validated (naming the field) and listed', async () => {
    const { client } = await center.setup();
    await assert.rejects(
      () => client.recurring.upsert('x', { every: 1000 }, 'scheduler-test', {}, { misfire: 'often' as 'all' }),
      (e: Error & { details?: { field: string }[] }) => e.details?.some((d) => d.field === 'misfire') ?? false,
    );
    await assert.rejects(
      () => client.recurring.upsert('x', { every: 1000 }, 'scheduler-test', {}, { misfire: 'skip', maxCatchUp: 3 }),
      (e: Error & { details?: { field: string }[] }) => e.details?.some((d) => d.field === 'maxCatchUp') ?? false,
    );
    const info = await client.recurring.upsert('capped', { every: 1000 }, 'scheduler-test', {}, { misfire: 'all', maxCatchUp: 2 });
    assert.equal(info.misfire, 'all');
    assert.equal(info.maxCatchUp, 2);
    assert.equal((await client.recurring.upsert('plain', { every: 1000 }, 'scheduler-test', {})).misfire, 'once');
  });
});
