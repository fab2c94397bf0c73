import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { declaredShards, defineJob } from '../src/jobs/contract.js';
import {
  expectedShard,
  generatedJobId,
  parseShardQueueName,
  routingKey,
  shardInId,
  shardOf,
  shardQueueName,
} from '../src/queues/shards.js';
import { validateJobId } from '../src/jobs/options.js';
import { jobs } from '../contracts/index.js';

/** The config as the app's processes load it: with their job catalog. */
const load = (env: NodeJS.ProcessEnv) => loadConfig(env, { contracts: jobs });

describe('shard routing (pure)', () => {
  it('shardOf is fixed forever: these values route existing caller ids and must never change', () => {
    // Changing the hash would send every caller id (idempotency key) to another shard.
    assert.deepEqual(
      ['order-42', 'invoice-7', 'a', 'heartbeat', 'cont-x'].map((k) => [3, 6, 64].map((n) => shardOf(k, n))),
      [
        [0, 0, 30],
        [0, 5, 15],
        [2, 4, 19],
        [1, 5, 50],
        [1, 1, 32],
      ],
    );
    assert.equal(shardOf('anything', 1), 0);
  });

  it('spreads keys evenly and, when K grows, moves a key only to a new shard (jump consistent hash)', () => {
    const keys = Array.from({ length: 60_000 }, (_, i) => `job-${i}`);
    const counts = new Array<number>(6).fill(0);
    for (const key of keys) counts[shardOf(key, 6)]!++;
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 600, `even spread over 6 shards: ${counts.join(', ')}`);
    let moved = 0;
    for (const key of keys) {
      const before = shardOf(key, 3);
      const after = shardOf(key, 6);
      if (after !== before) {
        moved++;
        assert.ok(after >= 3, `${key} moved from ${before} to an old shard ${after}`);
      }
    }
    // Going from 3 to 6 must move half of the keys (the minimum), not 5/6 of them.
    assert.ok(Math.abs(moved / keys.length - 0.5) < 0.02, `moved ${moved} of ${keys.length}`);
  });

  it('names shard 0 like the unsharded queue and shard i>0 "<queue>.<i>", and reads them back', () => {
    assert.equal(shardQueueName('batch', 0), 'batch');
    assert.equal(shardQueueName('batch', 5), 'batch.5');
    assert.deepEqual(parseShardQueueName('batch.5'), { logical: 'batch', shard: 5 });
    assert.deepEqual(parseShardQueueName('batch'), { logical: 'batch', shard: 0 });
    assert.deepEqual(parseShardQueueName('send-email.12'), { logical: 'send-email', shard: 12 });
  });

  it('generated ids carry their shard and are valid job ids', () => {
    const id = generatedJobId(4);
    assert.match(id, /^s4-[0-9a-f-]{36}$/);
    assert.equal(shardInId(id), 4);
    assert.equal(validateJobId(id), id, 'accepted as a job id (no ":", not numeric)');
    assert.equal(shardInId('order-42'), undefined);
    // The named shard wins while it is consumed; otherwise the id is hashed.
    assert.equal(expectedShard(id, 6, 6), 4);
    assert.equal(expectedShard(id, 3, 6), 4, 'a shard of an earlier, larger K is still consumed');
    assert.equal(expectedShard(id, 3, 3), shardOf(id, 3));
    assert.equal(expectedShard('order-42', 6, 6), shardOf('order-42', 6));
  });

  it("routes a schedule's tick jobs by the schedule id", () => {
    assert.equal(routingKey('repeat:heartbeat:1700000000000'), 'heartbeat');
    assert.equal(routingKey('order-42'), 'order-42');
    assert.equal(expectedShard('repeat:heartbeat:1700000000000', 6, 6), shardOf('heartbeat', 6));
  });
});

describe('shard configuration', () => {
  it('QUEUE_SHARDS overrides the contracts, per queue; other queues keep 1', () => {
    const config = load({ QUEUE_SHARDS: 'batch:6' });
    assert.equal(config.shards.batch, 6);
    assert.equal(config.shards.default, 1);
    assert.deepEqual(load({ QUEUE_SHARDS: ' batch:2 , default:3 ' }).shards, { batch: 2, default: 3 });
    assert.deepEqual(load({}).shards, { default: 1, batch: 1 });
  });

  it('refuses bad QUEUE_SHARDS with a message naming the entry and what is allowed', () => {
    const cases: [string, RegExp][] = [
      ['mail:2', /unknown queue "mail"; allowed: default, batch/],
      ['batch:0', /gives "batch" 0 shards; allowed: 1 to 64/],
      ['batch:65', /allowed: 1 to 64/],
      ['batch', /expected queue:count entries/],
      ['batch:2,batch:3', /names queue "batch" twice/],
      ['batch:x', /expected queue:count entries/],
    ];
    for (const [value, re] of cases) {
      assert.throws(
        () => load({ QUEUE_SHARDS: value }),
        (err: unknown) => err instanceof ConfigError && /QUEUE_SHARDS=/.test(err.message) && re.test(err.message),
        value,
      );
    }
  });

  it('a contract declares shards; contracts of one queue must agree', () => {
    const schema = z.object({}).strict();
    const a = defineJob({ name: 'a', queue: 'mail', schema, shards: 4 });
    const b = defineJob({ name: 'b', queue: 'mail', schema });
    const c = defineJob({ name: 'c', queue: 'mail', schema, shards: 2 });
    assert.deepEqual(declaredShards({ a, b }), { mail: 4 });
    assert.deepEqual(declaredShards({ b }), { mail: 1 });
    assert.throws(() => declaredShards({ a, c }), /Contracts "a" and "c" of queue "mail" declare shards 4 and 2/);
    assert.throws(() => defineJob({ name: 'd', queue: 'mail', schema, shards: 0 }), /shards of "d" to be an integer from 1 to 64/);
  });
});
