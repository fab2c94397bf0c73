import type { JobHook } from '../runtime/hooks.js';
import type { Logger } from '../logger.js';
import { runOf, type RunHistory } from './history.js';

/**
 * Records each finished run of a schedule in its history, as a job hook: only jobs made by a
 * schedule (`job.repeatJobKey`) are concerned, and only their final outcome (a failed attempt that
 * will be retried is not a run's end). One round trip per run, after BullMQ stored the outcome.
 */
export function runHistoryHook(history: RunHistory, logger: Logger): JobHook {
  return {
    name: 'run-history',
    applies: (job) => Boolean(job.repeatJobKey),
    afterFinish(job, outcome) {
      if (!outcome.final) return undefined;
      const run = outcome.state === 'completed' ? runOf(job, 'completed') : runOf(job, 'failed', outcome.failedReason);
      return history.record(job.queueName, job.repeatJobKey!, run).catch((err: Error) => {
        logger.warn({ schedule: job.repeatJobKey, err: err.message }, 'Could not record the run of a schedule');
      });
    },
  };
}
