import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from './connection.js';
import { RedisScript } from './script.js';

/** Takes the key if it is free, or renews it if `owner` holds it. KEYS: key. ARGV: owner, ttl ms. */
const ACQUIRE = new RedisScript('LeaseAcquire', `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/** Deletes the key only while `owner` holds it. KEYS: key. ARGV: owner. */
const RELEASE = new RedisScript('LeaseRelease', `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * A lease in Redis (a key naming its owner, with a TTL its holder renews): at most one owner holds
 * it at a time, and a holder that dies stops renewing, so the lease passes on after `ttlMs`.
 * Renewing and releasing check the owner, so a holder whose lease expired meanwhile (an event loop
 * blocked past the TTL) never extends or deletes another owner's.
 * Used by the alert detector (one active per Redis) and the `overlap: 'skip'` lock (one run per
 * schedule).
 */
export class Lease {
  #held = false;

  /** `owner`: what the key holds (default: this process, unique per Lease). */
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs: number,
    readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
  ) {}

  get held(): boolean {
    return this.#held;
  }

  /** Takes the lease if it is free, renews it if its owner holds it. @returns whether it is held now. */
  async acquire(): Promise<boolean> {
    this.#held = (await ACQUIRE.run(this.redis, [this.key], [this.owner, this.ttlMs])) === 1;
    return this.#held;
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await RELEASE.run(this.redis, [this.key], [this.owner]);
  }
}
