import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobs } from '../contracts/index.js';
import type { BulkJobOf } from '../src/client.js';
import { JobCatalog } from '../src/jobs/catalog.js';
import { useTestCluster } from './support/cluster.js';
import { waitFor } from './support/processes.js';
import { uniquePrefix } from './support/redis.js';
import { basicAuth, duplicateRuns, helloRuns, missingSeconds, serverPort, ticksOf } from './support/scale.js';

const { queueNames } = new JobCatalog(jobs);

/*
 * Redis Cluster end to end: three masters on free ports joined by `redis-cli --cluster create`;
 * the real producer, two workers and the server connect with REDIS_CLUSTER_NODES only; jobs,
 * schedules, a continuation, a batch and a join run on it.
 */

const shared = useTestCluster();

const BOARD = { user: 'admin', password: 'cluster-test-password' };

describe('Redis Cluster', () => {
  it('producer, two workers and the server on 3 masters: schedules, jobs, a continuation, the board; queues spread over nodes', { timeout: 120_000 }, async (t) => {
    const prefix = uniquePrefix();
    const env = {
      REDIS_CLUSTER_NODES: shared.cluster.seeds,
      QUEUE_PREFIX: prefix,
      BOARD_USER: BOARD.user,
      BOARD_PASSWORD: BOARD.password,
      HOST: '127.0.0.1',
      PORT: '0',
    };
    const group = shared.group(env);
    const producer = group.start('producer');
    const workers = [group.start('worker'), group.start('worker')];
    const server = group.start('server');
    await producer.waitForMessage('Schedules synced', 30_000);
    await Promise.all(workers.map((w) => w.waitForMessage('Worker started', 30_000)));
    const port = await serverPort(server, 30_000);
    const client = await shared.client(env);

    // Jobs on both queues, and a continuation whose parent is on the other queue (other node).
    const parent = await client.enqueue('sleep', { ms: 300, result: 'slept on the cluster' });
    const cont = await client.continueWith(parent, 'hello-world', {});
    const direct = await client.enqueue('hello-world', {});
    for (const ref of [parent, cont, direct]) {
      await waitFor(async () => (await client.getJob(ref))?.state === 'completed', `${ref.queue}/${ref.id} completed`, 30_000, 100);
    }
    const parentInfo = await client.getJob(parent);
    assert.equal((parentInfo?.returnValue as { result?: unknown } | null)?.result, 'slept on the cluster');
    const parentDone = Date.parse(parentInfo!.finishedAt!);
    const contStarted = Date.parse((await client.getJob(cont))!.processedAt!);
    assert.ok(contStarted >= parentDone, 'the continuation started after its parent finished');

    // A batch over both queues (other nodes than the batch's own slot) and a join after jobs of
    // both queues: each `then` runs exactly once, after its jobs.
    const batch = await client.batch(
      Array.from({ length: 30 }, (_, i): BulkJobOf<typeof jobs> => (i % 2 ? { name: 'sleep', data: { ms: 5 } } : { name: 'hello-world', data: {} })),
      { then: { name: 'hello-world', data: {} } },
    );
    const joined = await client.continueWith([parent, direct], 'hello-world', {}, { jobId: 'cluster-join' });
    for (const ref of [batch.then!, joined]) {
      await waitFor(async () => (await client.getJob(ref))?.state === 'completed', `${ref.queue}/${ref.id} completed`, 30_000, 100);
    }
    const status = (await client.getBatch(batch.id))!;
    assert.deepEqual([status.completed, status.failed, status.pending], [30, 0, 0]);
    const last = Math.max(...(await Promise.all(batch.jobs.map(async (j) => Date.parse((await client.getJob(j))!.finishedAt!)))));
    assert.ok(Date.parse((await client.getJob(batch.then!))!.processedAt!) >= last, "the batch's then ran after all its jobs");
    assert.equal((await client.getBatch('cluster-join'))?.completed, 2);

    // The per-second schedule fires on the cluster: consecutive ticks, each run once.
    await waitFor(() => ticksOf(helloRuns(workers), 'heartbeat').length >= 5, 'five heartbeat ticks', 30_000, 100);
    const runs = helloRuns(workers);
    const ticks = ticksOf(runs, 'heartbeat');
    assert.deepEqual(duplicateRuns(runs), [], 'no job ran twice');
    assert.deepEqual(missingSeconds(ticks), [], `ticks ${ticks.join(', ')}`);
    assert.ok(runs.has(cont.id) && runs.has(direct.id), 'the handler ran the continuation and the direct job');
    assert.ok(runs.has(batch.then!.id) && runs.has(joined.id), "the handler ran the batch's then and the join (once each: no duplicates above)");
    const schedules = (await client.recurring.list()).map((s) => s.id).sort();
    assert.deepEqual(schedules, ['heartbeat', 'scheduler-test']);

    // The board behind basic auth, reading every queue through the cluster.
    const page = await fetch(`http://127.0.0.1:${port}/board`, { headers: basicAuth(BOARD.user, BOARD.password) });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    assert.equal((await fetch(`http://127.0.0.1:${port}/board`)).status, 401, 'no credentials, no board');
    const api = await fetch(`http://127.0.0.1:${port}/board/api/queues`, { headers: basicAuth(BOARD.user, BOARD.password) });
    assert.equal(api.status, 200);
    const listed = ((await api.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    assert.deepEqual(listed, [...queueNames].sort());
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);

    // Each queue's keys live in one slot (hash tag), on one node; different queues on different slots.
    const placement: Record<string, { slot: number; owner: number; holders: number[] }> = {};
    for (const queue of queueNames) {
      const slot = (await shared.cluster.client.cluster('KEYSLOT', `${prefix}:{${queue}}:wait`)) as number;
      const holders: number[] = [];
      for (const node of shared.cluster.nodes) {
        if ((await shared.cluster.node(node.port).keys(`${prefix}:{${queue}}:*`)).length > 0) holders.push(node.port);
      }
      placement[queue] = { slot, owner: await shared.cluster.portForSlot(slot), holders };
      assert.deepEqual(holders, [placement[queue]!.owner], `all keys of queue ${queue} are on the node serving slot ${slot}`);
    }
    const [a, b] = queueNames.map((q) => placement[q]!);
    t.diagnostic(`queue placement: ${queueNames.map((q) => `${q} → slot ${placement[q]!.slot} on :${placement[q]!.owner}`).join(', ')}`);
    assert.notEqual(a!.slot, b!.slot, 'different queues hash to different slots');
    // redis-cli splits the slots evenly (0-5460, 5461-10922, 10923-16383): {batch} and {default} land on different masters.
    assert.notEqual(a!.owner, b!.owner, 'different queues live on different masters');

    // Last, as it breaks the cluster: with one master down /healthz says so (it pinged whichever
    // node answered, and said ok while enqueues to that master's slots failed).
    await shared.cluster.nodes[2]!.stop();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 503 || undefined, '/healthz 503 with a master down', 15_000, 200);
  });
});
