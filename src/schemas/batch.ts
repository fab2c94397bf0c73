import { z } from 'zod';
import { bulkItem } from './enqueue.js';
import { continueOn, jobName, payload } from './fields.js';

/** Most jobs one batch takes. */
export const MAX_BATCH_JOBS = 1000;

/** The job that runs once every job of a batch has finished. */
export const batchThen = z.object({ name: jobName, data: payload.optional() }).strict().describe('The job to run after all of them');

/** `POST /api/batches` and `client.batch`: jobs run as usual; `then` runs once, after all of them finished. */
export const batchRequest = z
  .object({
    id: z
      .uuid({ message: 'must be a UUID, e.g. from crypto.randomUUID()' })
      .optional()
      .describe(
        "The batch's id, for a safe retry (generated when not given): a call with the id of a batch that exists creates nothing new; " +
          "it adds only the batch's jobs that are missing and have not finished (200, duplicate: true), and a different request with that id is a 409",
      ),
    jobs: z.array(bulkItem).min(1, 'needs at least one job').max(MAX_BATCH_JOBS, `at most ${MAX_BATCH_JOBS} jobs`),
    then: batchThen.optional(),
    on: continueOn.optional().describe('success (default): then runs only if every job completed; finished: in any case'),
  })
  .strict()
  .superRefine((b, ctx) => {
    b.jobs.forEach((j, i) => {
      if (j.jobId !== undefined) ctx.addIssue({ code: 'custom', path: ['jobs', i, 'jobId'], message: 'a batch names its jobs itself (bat-<batch>-<index>)' });
      if (j.dedupe !== undefined) ctx.addIssue({ code: 'custom', path: ['jobs', i, 'dedupe'], message: 'a dropped job would never finish: no dedupe in a batch' });
      if (j.shardKey !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['jobs', i, 'shardKey'], message: "a batch's jobs go to the shard of their own ids (bat-<batch>-<index>): no shardKey in a batch" });
      }
    });
    if (b.on !== undefined && b.then === undefined) ctx.addIssue({ code: 'custom', path: ['on'], message: 'on needs then' });
  });
export type BatchRequest = z.input<typeof batchRequest>;

export const batchStatus = z.object({
  id: z.string(),
  total: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int().describe('Jobs that failed for good (no attempts left)'),
  pending: z.number().int().describe('Jobs not finished yet'),
  on: z.enum(['success', 'finished']),
  then: z
    .object({
      queue: z.string(),
      id: z.string(),
      name: z.string(),
      state: z
        .string()
        .describe('awaiting (jobs still running), cancelled (on success and a job failed), or the job state once added (waiting, active, completed, …)'),
    })
    .nullable(),
  createdAt: z.string(),
});
export type BatchStatus = z.output<typeof batchStatus>;

export const batchCreated = z.object({
  id: z.string(),
  jobs: z.array(z.object({ id: z.string(), queue: z.string(), name: z.string(), state: z.string() })),
  then: z.object({ queue: z.string(), id: z.string(), name: z.string() }).nullable(),
  duplicate: z.boolean().optional().describe('Present (true) when a batch with this id existed: nothing new was created but its missing jobs'),
});
export type BatchCreated = z.output<typeof batchCreated>;
