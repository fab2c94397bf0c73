import type { Job } from 'bullmq';
import type { Config } from '../config.js';
import type { RedisClient } from '../redis/connection.js';
import { queueKey } from '../redis/connection.js';
import type { Schedules } from '../schedules.js';
import type { BeforeRunResult, JobHook } from './hooks.js';

const POLICY_TTL_MS = 5000;
const RENEW_IF_HELD = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE_IF_HELD = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * The `overlap: 'skip'` policy of a schedule, as a job hook: a tick whose previous run is still
 * active completes at once as skipped. Only jobs made by a schedule (`job.repeatJobKey`) are
 * concerned; the policy is cached for 5 s, so a `skip` schedule costs a SET NX and a
 * compare-and-delete per run and an `allow` one nothing after the first read.
 */
export function overlapLockHook(options: { config: Config; redis: RedisClient; schedules: Schedules }): JobHook {
  const { config, redis, schedules } = options;
  const cache = new Map<string, { policy: string; until: number }>();

  async function policyOf(schedulerId: string): Promise<string> {
    const hit = cache.get(schedulerId);
    if (hit && hit.until > Date.now()) return hit.policy;
    const policy = (await schedules.meta(schedulerId))?.overlap ?? 'allow';
    cache.set(schedulerId, { policy, until: Date.now() + POLICY_TTL_MS });
    return policy;
  }

  return {
    name: 'overlap-lock',
    applies: (job) => Boolean(job.repeatJobKey),
    async beforeRun(job: Job): Promise<BeforeRunResult | undefined> {
      const schedulerId = job.repeatJobKey!;
      if ((await policyOf(schedulerId)) !== 'skip') return undefined;
      const id = String(job.id);
      // In the queue's slot: the lock is per schedule, and a schedule's jobs live in one queue.
      const lockKey = queueKey(config, job.queueName, 'running', schedulerId);
      const ttl = config.worker.lockDurationMs;
      const got = await redis.set(lockKey, id, 'PX', ttl, 'NX');
      const holder = got === 'OK' ? id : await redis.get(lockKey);
      // The holder may be this very job, retried after its worker died holding the lock: run it.
      if (holder !== id) {
        return { skip: { returnValue: { skipped: true, reason: `previous run ${holder ?? ''} of schedule ${schedulerId} still active` } } };
      }
      // Renewed and released only while it still names this run: if it expired meanwhile (an event
      // loop blocked past the TTL) and the next tick took it, deleting it would let a third tick
      // overlap that one.
      const renew = setInterval(() => void redis.eval(RENEW_IF_HELD, 1, lockKey, id, ttl).catch(() => {}), ttl / 2);
      return {
        release: async () => {
          clearInterval(renew);
          await redis.eval(RELEASE_IF_HELD, 1, lockKey, id).catch(() => {});
        },
      };
    },
  };
}
