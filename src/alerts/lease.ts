import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../redis/connection.js';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A lease in Redis (SET NX PX, renewed by its holder): at most one process holds it at a time.
 * A holder that dies stops renewing, and the lease passes to another process after `ttlMs`.
 */
export class Lease {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  #held = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  get held(): boolean {
    return this.#held;
  }

  /** Takes the lease if it is free, renews it if this process holds it. @returns whether it is held now. */
  async acquire(): Promise<boolean> {
    if (this.#held) {
      this.#held = (await this.redis.eval(RENEW, 1, this.key, this.owner, String(this.ttlMs))) === 1;
      if (this.#held) return true;
    }
    this.#held = (await this.redis.set(this.key, this.owner, 'PX', this.ttlMs, 'NX')) === 'OK';
    return this.#held;
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }
}
