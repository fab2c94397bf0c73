import type { Job } from 'bullmq';
import type { Config } from '../config.js';
import type { RedisClient } from '../redis/connection.js';
import { queueKey } from '../redis/connection.js';
import { Lease } from '../redis/lease.js';
import type { Schedules } from '../schedules.js';
import type { BeforeRunResult, JobHook } from './hooks.js';

const POLICY_TTL_MS = 5000;

/**
 * The `overlap: 'skip'` policy of a schedule, as a job hook: a tick whose previous run is still
 * active completes at once as skipped. Only jobs made by a schedule (`job.repeatJobKey`) are
 * concerned; the policy is cached for 5 s, so a `skip` schedule costs a SET NX and a
 * compare-and-delete per run (a Lease owned by the run) and an `allow` one nothing after the first read.
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
      // Owned by the run (its job id): the holder may be this very job, retried after its worker
      // died holding the lock, and then it runs.
      const lock = new Lease(redis, lockKey, ttl, id);
      if (!(await lock.acquire())) {
        const holder = await redis.get(lockKey);
        return { skip: { returnValue: { skipped: true, reason: `previous run ${holder ?? ''} of schedule ${schedulerId} still active` } } };
      }
      // Renewed and released only while it still names this run (see Lease).
      const renew = setInterval(() => void lock.acquire().catch(() => {}), ttl / 2);
      return {
        release: async () => {
          clearInterval(renew);
          await lock.release().catch(() => {});
        },
      };
    },
  };
}
