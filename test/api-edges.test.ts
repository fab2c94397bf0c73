import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './support/app.js';
import { startTestRedis, uniquePrefix, type TestRedis } from './support/redis.js';

/*
 * Edges of the HTTP API found by probing it from outside (the server's app in this process, over
 * real HTTP, with no worker: jobs stay where they were put).
 */

const TOKEN = 'test-api-token-0123456789';
const BOARD = { BOARD_USER: 'admin', BOARD_PASSWORD: 'admin-password-for-tests' };

let redis: TestRedis;
let sharded: TestApp;

before(async () => {
  redis = await startTestRedis({ appendonly: false });
  sharded = await startApp({ ...BOARD, REDIS_URL: redis.url, QUEUE_PREFIX: uniquePrefix(), API_TOKEN: TOKEN, QUEUE_SHARDS: 'batch:3' });
});
after(async () => {
  await sharded?.close();
  await redis?.stop();
});

async function call(app: TestApp, method: string, path: string, json?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${app.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('GET /api/jobs on a sharded queue', () => {
  it('lists the jobs of every shard under the logical queue, each with its shard, and pages through them', async () => {
    // shardKeys spread the jobs over the 3 shards (a generated id picks a random one).
    const created = await Promise.all(
      Array.from({ length: 9 }, (_, i) => call(sharded, 'POST', '/api/jobs', { name: 'sleep', data: { ms: 1 }, shardKey: `key-${i}`, delay: 3_600_000 })),
    );
    for (const c of created) assert.equal(c.status, 201, JSON.stringify(c.body));
    const byId = new Map(created.map((c) => [c.body.id as string, c.body.shard as number]));
    assert.ok(new Set(byId.values()).size > 1, `the jobs went to several shards: ${JSON.stringify([...byId])}`);

    const listed = await call(sharded, 'GET', '/api/jobs?queue=batch');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const jobs = listed.body.jobs as { id: string; queue: string; shard?: number }[];
    assert.deepEqual(jobs.map((j) => j.id).sort(), [...byId.keys()].sort(), 'every shard is listed, not shard 0 only');
    for (const j of jobs) {
      assert.equal(j.queue, 'batch', 'the logical queue, as GET /api/jobs/:queue/:id reports it');
      assert.equal(j.shard, byId.get(j.id), `the shard of ${j.id}`);
    }

    // Every queue: the same jobs, named the same way.
    const all = (await call(sharded, 'GET', '/api/jobs')).body.jobs as { id: string; queue: string }[];
    assert.deepEqual(all.filter((j) => byId.has(j.id)).map((j) => j.queue), Array(9).fill('batch'));

    // Pages of 4 over the shards: each job once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(sharded, 'GET', `/api/jobs?queue=batch&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      seen.push(...(page.body.jobs as { id: string }[]).map((j) => j.id));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    assert.deepEqual(seen.sort(), [...byId.keys()].sort());

    // A shard by its BullMQ name lists that shard only.
    const shard1 = (await call(sharded, 'GET', '/api/jobs?queue=batch.1')).body.jobs as { id: string }[];
    assert.deepEqual(shard1.map((j) => j.id).sort(), [...byId].filter(([, s]) => s === 1).map(([id]) => id).sort());
  });
});
