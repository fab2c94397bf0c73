import type { Job } from 'bullmq';
import type { Continuations } from '../continuations/index.js';
import type { Logger } from '../logger.js';
import type { BeforeRunResult, JobHook } from '../runtime/hooks.js';
import type { Schedules } from '../schedules.js';
import type { ThenSpec } from '../schemas/schedule-semantics.js';
import { CATCH_UP_PREFIX } from '../jobs/center-ids.js';
import { catchUpOf, scheduledTickOf } from './misfire.js';

const POLICY_TTL_MS = 5000;

/**
 * `then` of a schedule, as a job hook: before each run of the schedule (a BullMQ tick or a
 * catch-up run) the named job is registered as a continuation of that run, with the key
 * `then-<schedule>-<tick>`; the continuation mechanism releases it when the run finishes, with
 * the run's outcome as its parent. Crash-safe the way continuations are: a registration is one
 * script, registering again (a run restarted after its worker died) is a duplicate, and the
 * sweep releases what a dead worker did not. Registered after the misfire and overlap hooks, so
 * a skipped or missed tick never gets one. Schedules without `then` cost a cached policy read.
 */
export function thenHook(options: { continuations: Continuations; schedules: Schedules; logger: Logger }): JobHook {
  const { continuations, schedules, logger } = options;
  const cache = new Map<string, { then: ThenSpec | undefined; until: number }>();

  async function thenOf(id: string): Promise<ThenSpec | undefined> {
    const hit = cache.get(id);
    if (hit && hit.until > Date.now()) return hit.then;
    const then = (await schedules.meta(id))?.then;
    cache.set(id, { then, until: Date.now() + POLICY_TTL_MS });
    return then;
  }

  const scheduleOf = (job: Job): string | undefined => job.repeatJobKey ?? catchUpOf(job)?.schedule;

  return {
    name: 'schedule-then',
    applies: (job) => Boolean(job.repeatJobKey) || String(job.id).startsWith(CATCH_UP_PREFIX),
    async beforeRun(job: Job): Promise<BeforeRunResult | undefined> {
      const schedule = scheduleOf(job);
      const then = schedule ? await thenOf(schedule) : undefined;
      if (!schedule || !then) return undefined;
      const tick = scheduledTickOf(job)!.getTime();
      await continuations.register({ queue: job.queueName, id: String(job.id) }, then.name, then.data ?? {}, {
        on: then.on ?? 'success',
        key: `then-${schedule}-${tick}`,
      });
      return undefined;
    },
    async afterFinish(job, outcome) {
      if (!outcome.final) return;
      const schedule = scheduleOf(job);
      if (!schedule || !(await thenOf(schedule))) return;
      const returned = outcome.state === 'completed' ? (outcome.returnValue as { skipped?: unknown } | null) : null;
      if (returned?.skipped === true) return;
      // Release now rather than wait for the sweep: this worker may not have heard of the
      // registration yet. Releasing twice releases once.
      await continuations.resolve({ queue: job.queueName, id: String(job.id) }).catch((err: Error) => {
        logger.warn({ schedule, job: job.id, err: err.message }, 'Could not release the then-job of a schedule run; the sweep will');
      });
    },
  };
}
