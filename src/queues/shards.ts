import { randomUUID } from 'node:crypto';

/*
 * Sharding: one logical queue (what contracts, the API, the CLI and metrics name) served by K BullMQ
 * queues, each hash-tagged into its own Redis Cluster slot so that one job type can use several
 * masters. Everything here is pure (no Redis); `Queues` uses it to route.
 *
 * Names. Shard 0 keeps the logical name (`batch`), so a queue that was never sharded, or K = 1,
 * names every key exactly as before, and changing K from 1 keeps the old jobs on shard 0. Shard
 * i > 0 is `batch.i`: a contract's queue name cannot contain ".", so no shard name can collide with
 * another logical queue, and on a Cluster each shard gets its own hash tag (`jc:{batch.3}`).
 *
 * Ids. A job's shard is read from its id:
 * - ids the center generates on a sharded queue carry it: `s<i>-<uuid>`;
 * - a caller's id (the idempotency key) is stored as given, and its shard is `shardOf(id, K)`;
 * - a schedule's tick jobs (`repeat:<schedule>:<time>`) are on the schedule's shard;
 * - a job added with a `shardKey` is on `shardOf(shardKey, K)`, so its id carries the shard.
 * Lookups try that shard first and fall back to every shard ever used (only on a miss), so a job
 * is found by id whatever K was when it was added.
 */

/** The most shards a logical queue may have: each shard is a BullMQ Worker (and connection) per worker process. */
export const MAX_SHARDS = 64;

/** Separates the logical name from the shard number in a shard's queue name (`batch.3`). */
const SHARD_SEPARATOR = '.';

const GENERATED_ID_RE = /^s(\d{1,2})-/;

/** BullMQ queue name of shard `i` of `logical`: `logical` itself for shard 0, `logical.i` after. */
export function shardQueueName(logical: string, shard: number): string {
  return shard === 0 ? logical : `${logical}${SHARD_SEPARATOR}${shard}`;
}

/** The logical queue and shard of a BullMQ queue name (inverse of {@link shardQueueName}). */
export function parseShardQueueName(name: string): { logical: string; shard: number } {
  const at = name.lastIndexOf(SHARD_SEPARATOR);
  const n = at > 0 ? Number(name.slice(at + 1)) : NaN;
  return Number.isInteger(n) && n > 0 ? { logical: name.slice(0, at), shard: n } : { logical: name, shard: 0 };
}

/** FNV-1a over UTF-16 code units: 32 bits, stable across processes, platforms and Node versions. */
function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The shard of `key` among `k` shards: a jump consistent hash (Lamping and Veach, 2014) driven by a
 * per-key pseudo-random sequence. Going from k to k' > k shards moves only the keys that must move
 * (a fraction 1 − k/k'), so most caller ids and shard keys keep their shard when K grows.
 *
 * Fixed forever: changing it would move every existing caller id to another shard.
 */
export function shardOf(key: string, k: number): number {
  if (k <= 1) return 0;
  // mulberry32 seeded by the key's hash: the "random" stream of jump hash, deterministic per key.
  let state = fnv1a(key);
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let b = 0;
  let j = 0;
  while (j < k) {
    b = j;
    j = Math.floor((b + 1) / (1 - next()));
  }
  return b;
}

/** A new job id that carries its shard: `s<i>-<uuid>` (valid for BullMQ: no ":", not numeric). */
export function generatedJobId(shard: number, base: string = randomUUID()): string {
  return `s${shard}-${base}`;
}

/** The shard an id names (`s<i>-…`), if any. */
export function shardInId(id: string): number | undefined {
  const m = GENERATED_ID_RE.exec(id);
  return m ? Number(m[1]) : undefined;
}

/**
 * What decides the shard of a job known only by its id: a schedule's tick job
 * (`repeat:<schedule>:<time>`) routes by its schedule id; everything else by the id itself.
 */
export function routingKey(id: string): string {
  if (id.startsWith('repeat:')) {
    const end = id.indexOf(':', 7);
    return end > 7 ? id.slice(7, end) : id;
  }
  return id;
}

/**
 * The shard where a job with this id is expected, among `k` shards when `consumed` shards exist
 * (consumed ≥ k once K has been larger): the shard its id names if that is consumed, else the hash.
 */
export function expectedShard(id: string, k: number, consumed: number): number {
  const named = shardInId(id);
  if (named !== undefined && named < Math.max(k, consumed)) return named;
  return shardOf(routingKey(id), k);
}
