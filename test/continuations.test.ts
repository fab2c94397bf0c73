import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { JobInfo, JobRef } from '../src/client.js';
import type { TestClient as JobCenterClient } from './support/center.js';
import { helloWorld } from '../contracts/index.js';
import type { ParentOutcome } from '../src/continuations/index.js';
import { Lifecycle } from '../src/lifecycle.js';
import { defineHandler } from '../src/runtime/handler.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import failHandler from '../workers/handlers/fail.js';
import schedulerTestHandler from '../workers/handlers/scheduler-test.js';
import sleepHandler from '../workers/handlers/sleep.js';
import { NotFoundError } from '../src/errors.js';
import { jobSettled, silentLogger, testConfig, useTestCenter } from './support/center.js';
import { waitFor, type CenterProcess } from './support/processes.js';

/*
 * Continuations against a real Redis and real worker processes: run once after the parent, at once
 * for an already finished parent, cancelled visibly on a failed parent (on: success), run either way
 * (on: finished), across queues, and exactly once when the worker is SIGKILLed between the parent's
 * completion and the release.
 */

const center = useTestCenter();
const setup = (extra: Record<string, string> = {}) => center.setup({ CONTINUATION_SWEEP_MS: '200', ...extra });

const settled = (client: JobCenterClient, ref: JobRef, what?: string): Promise<JobInfo> => jobSettled(client, ref, 20_000, what);

/** Every job of `name` in `queue`, in any state: proves "exactly once" by counting. */
async function jobsNamed(client: JobCenterClient, queue: string, name: string) {
  const all = await client.queues.get(queue).getJobs(['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized']);
  return all.filter((j) => j?.name === name);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Handler runs of `scheduler-test` for job `id`, counted from the worker's own log lines. */
function runsOf(worker: CenterProcess, id: string): number {
  return worker.lines.filter((l) => l.msg === 'Scheduled job test ran' && l.job === id).length;
}

describe('continuations on one worker process', () => {
  let client: JobCenterClient;
  let worker: CenterProcess;
  before(async () => {
    const s = await setup();
    client = s.client;
    worker = s.group.start('worker');
    await worker.waitForMessage('Worker started');
  });

  it('run once, on another queue, after the parent completes', async () => {
    const parent = await client.enqueue('sleep', { ms: 400, result: 'p' });
    const cont = await client.continueWith(parent, 'scheduler-test', { note: 'after sleep' });
    assert.equal(cont.state, 'awaiting');
    assert.equal(cont.queue, 'default');
    assert.equal((await client.getJob(cont))?.state, 'awaiting', 'visible as awaiting before the parent ends');

    const done = await settled(client, cont);
    const p = await client.getJob(parent);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.ok(p?.finishedAt && done.processedAt && done.processedAt >= p.finishedAt, `${done.processedAt} after ${p?.finishedAt}`);
    await pause(800); // several sweeps later, still exactly one run
    assert.equal(runsOf(worker, cont.id), 1, worker.output());
  });

  it('run at once when the parent had already completed before registering', async () => {
    const parent = await client.enqueue('sleep', { ms: 0 });
    await settled(client, parent);
    const cont = await client.continueWith(parent, 'scheduler-test', { note: 'late' });
    assert.notEqual(cont.state, 'awaiting', 'released during registration');
    const done = await settled(client, cont);
    assert.equal(done.state, 'completed');
    // Racing releases (hooks, sweepers, retries) add it once: the job id is deterministic.
    await Promise.all(Array.from({ length: 5 }, () => client.continuations.resolve(parent)));
    await pause(500);
    assert.equal(runsOf(worker, cont.id), 1, worker.output());
  });

  it("on: 'success' + a parent that finally fails → the continuation ends failed, 'Cancelled', never run", async () => {
    const parent = await client.enqueue('fail', { message: 'parent broke' }, { attempts: 2 });
    const cont = await client.continueWith(parent, 'scheduler-test', {}, { on: 'success' });
    const done = await settled(client, cont);
    assert.equal(done.state, 'failed');
    assert.match(done.failedReason ?? '', /^Cancelled: parent job default\/[0-9a-f-]+ failed \(parent broke\)/);
    assert.equal(done.returnValue, null);
    assert.equal(runsOf(worker, cont.id), 0, 'the handler never ran');
    assert.equal((await client.getJob(parent))?.attemptsMade, 2, 'cancelled only after the last attempt');
  });

  it("on: 'finished' runs after a failed parent too; idempotency keys register once", async () => {
    const parent = await client.enqueue('fail', { message: 'nope' }, { attempts: 1 });
    const first = await client.continueWith(parent, 'scheduler-test', { note: 'cleanup' }, { on: 'finished', jobId: 'cleanup-1' });
    const again = await client.continueWith(parent, 'scheduler-test', { note: 'cleanup' }, { on: 'finished', jobId: 'cleanup-1' });
    assert.equal(again.id, first.id);
    assert.equal(again.duplicate, true);
    const done = await settled(client, first);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal((await client.getJob(parent))?.state, 'failed');
    assert.equal(runsOf(worker, first.id), 1);
  });

  it("an awaiting continuation's pointer never expires: a chain under a parent delayed for weeks stays whole", async () => {
    // The pointer had a 14-day TTL while awaiting; past it, the next step of a chain found its parent
    // "missing" and was cancelled, though the step before it would still run on the due day.
    const parent = await client.schedule('hello-world', {}, { delay: 20 * 24 * 3600 * 1000 });
    const sameQueue = await client.continueWith(parent, 'scheduler-test', {});
    const otherQueue = await client.continueWith(sameQueue, 'sleep', { ms: 1 });
    const { keys } = client.continuations.deps;
    for (const c of [sameQueue, otherQueue]) {
      assert.equal(await center.redis.client.ttl(keys.pointer(c.queue, c.id)), -1, `${c.queue}/${c.id}: no expiry while it awaits`);
    }
    await client.cancelJob(otherQueue);
    await client.cancelJob(sameQueue);
    await client.cancelJob(parent);
  });

  it('a chain runs its steps in order, each after the previous one', async () => {
    const steps = await client.chain().then('sleep', { ms: 100, result: 1 }).then('scheduler-test', {}).then('sleep', { ms: 0, result: 3 }).enqueue();
    assert.deepEqual(steps.map((s) => s.state), ['waiting', 'awaiting', 'awaiting']);
    const infos = [];
    for (const step of steps) infos.push(await settled(client, step));
    for (let i = 1; i < infos.length; i++) {
      assert.equal(infos[i]!.state, 'completed');
      assert.ok(infos[i]!.processedAt! >= infos[i - 1]!.finishedAt!, `step ${i} started after step ${i - 1} ended: ${JSON.stringify(infos)}`);
    }
  });
});

describe('continuations', () => {
  it("the continuation's handler reads the parent's return value (ctx.parent())", async () => {
    // An in-process worker runtime with a probe handler bound to an existing contract, so the test
    // can see exactly what a handler receives.
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    const seen: (ParentOutcome | undefined)[] = [];
    const probe = defineHandler(helloWorld, async (_data, ctx) => {
      seen.push(ctx.parent());
      return { parent: ctx.parent() };
    });
    await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [probe, failHandler, sleepHandler] });
    try {
      const ok = await client.enqueue('sleep', { ms: 50, result: { rows: 42 } });
      const cont = await client.continueWith(ok, 'hello-world', {});
      const done = await settled(client, cont);
      assert.equal(done.state, 'completed', JSON.stringify(done));
      const parent = (done.returnValue as { parent: ParentOutcome }).parent;
      assert.equal(parent.state, 'completed');
      assert.equal(parent.id, ok.id);
      assert.deepEqual((parent.returnValue as { result: unknown }).result, { rows: 42 });
      assert.equal(seen.length, 1);

      const bad = await client.enqueue('fail', { message: 'no luck' }, { attempts: 1 });
      const after = await client.continueWith(bad, 'hello-world', {}, { on: 'finished' });
      const p2 = ((await settled(client, after)).returnValue as { parent: ParentOutcome }).parent;
      assert.equal(p2.state, 'failed');
      assert.equal(p2.failedReason, 'no luck');
    } finally {
      await lifecycle.shutdown();
    }
  });

  it('a worker SIGKILLed between the parent completing and releasing: another worker releases it, exactly once', async () => {
    const { group, client } = await setup();
    const doomed = group.start('worker', { TEST_CRASH_AFTER_COMPLETE: 'sleep', CONTINUATION_SWEEP_MS: '3600000' });
    await doomed.waitForMessage('Worker started');
    const parent = await client.enqueue('sleep', { ms: 600, result: 'parent' });
    const cont = await client.continueWith(parent, 'scheduler-test', { note: 'survives' });
    assert.equal(cont.state, 'awaiting');
    const exit = await waitFor(async () => (doomed.running ? undefined : doomed.exited), 'the doomed worker to die', 20_000);
    assert.equal(exit?.signal, 'SIGKILL', doomed.output());
    assert.equal((await client.getJob(parent))?.state, 'completed');
    assert.equal((await client.getJob(cont))?.state, 'awaiting', 'the crash hit the window: nothing released it');

    const rescuer = group.start('worker', { CONTINUATION_SWEEP_MS: '200' });
    await rescuer.waitForMessage('Worker started');
    const done = await settled(client, cont);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    await pause(1000); // more sweeps: still one
    const runs = await jobsNamed(client, 'default', 'scheduler-test');
    assert.equal(runs.length, 1, `continuation jobs: ${runs.map((j) => j?.id).join(', ')}`);
    assert.equal(runsOf(rescuer, cont.id), 1, rescuer.output());
  });
});

describe('after several parents (a join)', () => {
  it('runs once after all of them, across queues, at once for finished ones; on success a failed parent cancels it; a retry registers nothing; a missing parent is a 404 and nothing runs', async () => {
    const { env, client } = await setup();
    const lifecycle = new Lifecycle(silentLogger);
    await startWorkerRuntime({ config: testConfig(env), logger: silentLogger, lifecycle, handlers: [schedulerTestHandler, failHandler, sleepHandler] });
    try {
      const done = await client.enqueue('sleep', { ms: 1 });
      await settled(client, done);
      const slow = await client.enqueue('sleep', { ms: 500 });
      const other = await client.enqueue('scheduler-test', { note: 'default queue' });
      const joined = await client.continueWith([done, slow, other], 'scheduler-test', { note: 'after all' }, { jobId: 'join-a' });
      assert.equal(joined.join, 'join-a');
      assert.equal(joined.id, 'batthen-join-a');
      assert.equal(joined.state, 'awaiting');
      assert.equal((await client.getJob(joined))?.state, 'awaiting', 'visible as awaiting before its parents end');
      assert.equal((await client.continueWith([done, slow, other], 'scheduler-test', { note: 'after all' }, { jobId: 'join-a' })).duplicate, true);
      const then = await settled(client, joined);
      assert.equal(then.state, 'completed', JSON.stringify(then));
      for (const parent of [done, slow, other]) {
        const p = (await client.getJob(parent))!;
        assert.ok(then.processedAt! >= p.finishedAt!, `the join ran after ${parent.queue}/${parent.id} ended`);
      }
      const status = (await client.getBatch('join-a'))!;
      assert.deepEqual({ total: status.total, completed: status.completed, failed: status.failed, pending: status.pending }, { total: 3, completed: 3, failed: 0, pending: 0 });
      assert.equal(status.then?.state, 'completed');
      await pause(600); // more sweeps: still one
      assert.equal((await jobsNamed(client, 'default', 'scheduler-test')).filter((j) => j?.id === joined.id).length, 1);

      // on: success, one parent fails: the join is cancelled, its job never runs.
      const bad = await client.enqueue('fail', { message: 'no luck' }, { attempts: 1 });
      const good = await client.enqueue('sleep', { ms: 50 });
      const strict = await client.continueWith([bad, good], 'scheduler-test', {}, { jobId: 'join-b' });
      const cancelled = await waitFor(async () => {
        const b = await client.getBatch(strict.join!);
        return b?.pending === 0 && b.then?.state !== 'awaiting' ? b : undefined;
      }, 'join-b to end', 20_000);
      assert.equal(cancelled.then?.state, 'cancelled');
      assert.equal(cancelled.failed, 1);
      assert.equal((await client.getJob(strict))?.state, 'cancelled', 'the cancelled join added no job, and says so');
      // on: finished runs either way.
      const lenient = await client.continueWith([bad, good], 'scheduler-test', {}, { on: 'finished' });
      assert.equal((await settled(client, lenient)).state, 'completed');

      // A missing parent: 404, and the join never runs even when the other parent finishes.
      const alive = await client.enqueue('sleep', { ms: 50 });
      await assert.rejects(
        () => client.continueWith([alive, { queue: 'batch', id: 'no-such-job' }], 'scheduler-test', {}, { jobId: 'join-c' }),
        NotFoundError,
      );
      await settled(client, alive);
      const withdrawn = await waitFor(async () => (await client.getBatch('join-c'))?.then, 'join-c status', 5000);
      assert.equal(withdrawn.state, 'cancelled');
      await pause(400);
      assert.equal((await client.getJob({ queue: 'default', id: 'batthen-join-c' }))?.state, 'cancelled', 'withdrawn: nothing will run');

      // Bad input names the field.
      await assert.rejects(() => client.continueWithUnchecked([], 'scheduler-test', {}), (e: Error & { details?: { field: string }[] }) => e.details?.[0]?.field === 'after');
      await assert.rejects(
        () => client.continueWithUnchecked([done, { queue: 'nope', id: 'x' }], 'scheduler-test', {}),
        (e: Error & { details?: { field: string }[] }) => e.details?.[0]?.field === 'after.1.queue',
      );
    } finally {
      await lifecycle.shutdown();
    }
  });

  it('a worker SIGKILLed between a parent completing and reporting it: the sweep reports it, the join runs exactly once', async () => {
    const { group, client } = await setup();
    const doomed = group.start('worker', { TEST_CRASH_AFTER_COMPLETE: 'sleep', CONTINUATION_SWEEP_MS: '3600000' });
    await doomed.waitForMessage('Worker started');
    const first = await client.enqueue('scheduler-test', { note: 'first parent' });
    await settled(client, first);
    const parent = await client.enqueue('sleep', { ms: 600, result: 'parent' });
    const joined = await client.continueWith([first, parent], 'scheduler-test', { note: 'joined' });
    const exit = await waitFor(async () => (doomed.running ? undefined : doomed.exited), 'the doomed worker to die', 20_000);
    assert.equal(exit?.signal, 'SIGKILL', doomed.output());
    assert.equal((await client.getJob(parent))?.state, 'completed');
    assert.equal((await client.getBatch(joined.join!))?.pending, 1, 'the crash hit the window: the parent was not reported');

    const rescuer = group.start('worker', { CONTINUATION_SWEEP_MS: '200' });
    await rescuer.waitForMessage('Worker started');
    assert.equal((await settled(client, joined)).state, 'completed');
    await pause(1000); // more sweeps: still one
    assert.equal(runsOf(rescuer, joined.id) + runsOf(doomed, joined.id), 1, rescuer.output());
  });
});
