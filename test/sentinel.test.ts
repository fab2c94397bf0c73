import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { UnavailableError, type JobCenterClient } from '../src/client.js';
import { ProcessGroup, waitFor, type CenterProcess } from './support/processes.js';
import { uniquePrefix } from './support/redis.js';
import { testClient } from './support/center.js';
import { basicAuth, duplicateRuns, helloRuns, missingSeconds, serverPort, ticksOf } from './support/scale.js';
import { startTestSentinel, type TestSentinel } from './support/sentinel.js';

/*
 * Sentinel end to end: a master, an asynchronous replica and a sentinel on free ports; the real
 * producer, worker and server connect through the sentinel. The master is failed over twice —
 * once with SENTINEL FAILOVER (the old master is demoted and keeps its client connections), once
 * by SIGKILL — and after each the processes must find the new master and keep working.
 */

let topo: TestSentinel;
const groups: ProcessGroup[] = [];
const clients: JobCenterClient[] = [];

before(async () => {
  topo = await startTestSentinel();
});
after(async () => {
  await Promise.all(groups.map((g) => g.stopAll()));
  await Promise.all(clients.map((c) => c.close()));
  await topo?.stop();
});

const BOARD = { user: 'admin', password: 'sentinel-test-password' };

describe('Redis Sentinel', () => {
  it('producer, worker and server follow two failovers (demoted master, crashed master) and keep processing', { timeout: 150_000 }, async (t) => {
    const env = {
      REDIS_SENTINELS: topo.sentinels,
      REDIS_SENTINEL_MASTER: topo.masterName,
      QUEUE_PREFIX: uniquePrefix(),
      PRODUCER_RESYNC_MS: '1000',
      WORKER_LOCK_DURATION_MS: '5000',
      WORKER_STALLED_INTERVAL_MS: '5000',
      BOARD_USER: BOARD.user,
      BOARD_PASSWORD: BOARD.password,
      HOST: '127.0.0.1',
      PORT: '0',
    };
    const group = new ProcessGroup(env);
    groups.push(group);
    const producer = group.start('producer');
    const worker = group.start('worker');
    const server = group.start('server');
    await producer.waitForMessage('Schedules synced', 30_000);
    await worker.waitForMessage('Worker started', 30_000);
    const port = await serverPort(server, 30_000);
    const client = await testClient(env);
    clients.push(client);
    await waitFor(() => ticksOf(helloRuns([worker]), 'heartbeat').length >= 2, 'two heartbeats before any failover', 20_000);

    // 1. Graceful failover: the sentinel promotes the replica and demotes the master.
    const first = await topo.masterPort();
    await topo.sentinel.call('SENTINEL', 'FAILOVER', topo.masterName);
    const second = await topo.waitForNewMaster(first);
    await expectProcessing(t, 'after SENTINEL FAILOVER', { client, worker, producer, port });

    // 2. Crash, with writes the replica never received: cut the replica's link and freeze it,
    //    let the master acknowledge a few jobs, kill the master, then let the replica be promoted.
    await topo.waitForHealthyReplica(30_000);
    const replica = topo.servers.get(first)!;
    const master = topo.servers.get(second)!;
    await isolateReplica(first, second);
    const acknowledged: string[] = [];
    for (let i = 0; i < 5; i++) {
      const job = await client.enqueue('hello-world', {}, { jobId: `acked-before-crash-${i}`, delay: 3_600_000 });
      acknowledged.push(job.id);
    }
    const onOldMaster = await topo.node(second).keys(`${env.QUEUE_PREFIX}:default:acked-before-crash-*`);
    master.process.kill('SIGKILL');
    await master.stop();
    replica.process.kill('SIGCONT');
    const crashAt = Date.now();
    // While no master is reachable, an enqueue fails at once instead of hanging or half-writing.
    await waitFor(() => client.queues.redis.status !== 'ready', 'the client to notice the master is gone', 10_000, 10);
    const tried = Date.now();
    await assert.rejects(client.enqueue('hello-world', {}, { jobId: 'while-no-master' }), (e: unknown) => e instanceof UnavailableError);
    const rejectedMs = Date.now() - tried;
    const third = await topo.waitForNewMaster(second);
    const failoverMs = Date.now() - crashAt;
    assert.equal(third, first, 'the old replica became master');
    await expectProcessing(t, 'after the master was killed', { client, worker, producer, port });
    const survived: string[] = [];
    for (const id of acknowledged) if (await client.getJob({ queue: 'default', id })) survived.push(id);

    const runs = helloRuns([worker]);
    const ticks = ticksOf(runs, 'heartbeat');
    const report = [
      `Failover after a crash took ${failoverMs} ms (down-after-milliseconds 1000).`,
      `Asynchronous replication: ${acknowledged.length} jobs were acknowledged by the old master ` +
        `(${onOldMaster.length} of them verified on it) but never reached the replica; ` +
        `after the failover ${acknowledged.length - survived.length} of them are gone from Redis (lost), ${survived.length} survived.`,
      `Heartbeat across both failovers: ${ticks.length} ticks ran, ${missingSeconds(ticks).length} seconds skipped, ` +
        `${duplicateRuns(runs).length} ticks ran twice (a completion lost with the old master makes the job run again).`,
      `An enqueue while no master was reachable failed after ${rejectedMs} ms with UnavailableError and wrote nothing.`,
    ];
    for (const line of report) t.diagnostic(line);
    assert.equal(onOldMaster.length, acknowledged.length, 'the old master had acknowledged every job');
    assert.deepEqual(survived, [], 'writes the replica never received are lost at failover');
    assert.equal(await client.getJob({ queue: 'default', id: 'while-no-master' }), undefined);
    assert.ok(rejectedMs < 2000, `rejected in ${rejectedMs} ms`);
  });
});

/** Freezes the replica (SIGSTOP) and cuts its replication link, so it receives no further writes. */
async function isolateReplica(replicaPort: number, masterPort: number): Promise<void> {
  const replica = topo.servers.get(replicaPort)!;
  for (let attempt = 1; ; attempt++) {
    // Freeze the replica first, then drop its link from the master's side: a frozen replica cannot
    // reconnect, so the master sees it gone at once (cutting from the replica's side raced under load).
    replica.process.kill('SIGSTOP');
    await topo.node(masterPort).call('CLIENT', 'KILL', 'TYPE', 'replica');
    const detached = await waitFor(
      async () => /connected_slaves:0/.test(await topo.node(masterPort).info('replication')),
      'the master to drop its replica',
      2000,
      20,
    ).catch(() => false);
    if (detached) return;
    replica.process.kill('SIGCONT');
    if (attempt === 3) throw new Error('could not detach the replica from the master');
    await topo.waitForHealthyReplica(30_000);
  }
}

/** After a failover: new heartbeat ticks run, a new job completes, the server and the producer work. */
async function expectProcessing(
  t: TestContext,
  label: string,
  p: { client: JobCenterClient; worker: CenterProcess; producer: CenterProcess; port: number },
): Promise<void> {
  const since = Date.now();
  await waitFor(
    () => ticksOf(helloRuns([p.worker]), 'heartbeat').filter((tick) => tick > since).length >= 2,
    `${label}: two new heartbeat ticks run by the worker`,
    45_000,
    100,
  );
  const jobId = `after-${since}`;
  await waitFor(() => p.client.enqueue('hello-world', {}, { jobId }), `${label}: enqueue accepted`, 30_000, 200);
  await waitFor(async () => (await p.client.getJob({ queue: 'default', id: jobId }))?.state === 'completed', `${label}: a new job completed`, 30_000, 100);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${p.port}/healthz`)).status === 200, `${label}: /healthz 200`, 30_000, 200);
  const board = await fetch(`http://127.0.0.1:${p.port}/board/api/queues`, { headers: basicAuth(BOARD.user, BOARD.password) });
  assert.equal(board.status, 200, `${label}: the board reads the queues`);
  // The producer's periodic check re-creates a declared schedule that vanished: its connection works.
  const healedBefore = p.producer.lines.filter((l) => l.msg === 'Re-created missing schedules').length;
  await waitFor(() => p.client.recurring.remove('scheduler-test'), `${label}: schedule removed`, 30_000, 200);
  await waitFor(
    () => p.producer.lines.filter((l) => l.msg === 'Re-created missing schedules').length > healedBefore,
    `${label}: the producer re-created the removed schedule`,
    30_000,
    100,
  );
  t.diagnostic(`${label}: worker, producer and server working again after ${Date.now() - since} ms`);
}
