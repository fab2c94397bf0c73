import type { Job } from 'bullmq';
import type { JobHook } from '../runtime/hooks.js';
import { batchOf, BATCH_JOB_PREFIX, type Batches } from './batches.js';

/**
 * Reports a batch's job once it ended for good. Other jobs cost one prefix test; a failed attempt
 * with attempts left is not reported (the job is not finished).
 */
export function batchHook(batches: Batches): JobHook {
  return {
    name: 'batches',
    applies: (job: Job) => String(job.id).startsWith(BATCH_JOB_PREFIX),
    afterFinish(job, outcome) {
      if (!outcome.final) return;
      const id = batchOf(String(job.id));
      if (!id) return;
      return batches.record(id, `${job.queueName}/${String(job.id)}`, outcome.state);
    },
  };
}
