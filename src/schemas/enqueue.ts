import { z } from 'zod';
import { attempts, continueOn, delayMs, jobId, jobName, jobRef, payload, priority, runAt } from './fields.js';

/** Options of one enqueue, shared by `client.enqueue`, `POST /api/jobs` and `cli enqueue|schedule`. */
export const enqueueOptionsShape = {
  jobId: jobId.optional().describe('Idempotency key: a second enqueue with the same key adds nothing (200, duplicate: true)'),
  delay: delayMs.optional(),
  runAt: runAt.optional(),
  priority: priority.optional(),
  attempts: attempts.optional(),
};

function exclusiveTime(b: { delay?: unknown; runAt?: unknown }, ctx: z.RefinementCtx): void {
  if (b.delay !== undefined && b.runAt !== undefined) {
    for (const path of ['delay', 'runAt']) ctx.addIssue({ code: 'custom', path: [path], message: 'give either delay or runAt, not both' });
  }
}

/** What the client checks for `enqueue` / `schedule` (its `at: Date` arrives here as `runAt`). */
export const enqueueOptions = z.object(enqueueOptionsShape).strict().superRefine(exclusiveTime);
export type EnqueueOptionsInput = z.input<typeof enqueueOptions>;

/** Options of a continuation: `client.continueWith`, `after` in `POST /api/jobs`, `cli continue`. */
export const continueOptions = z
  .object({
    on: continueOn.optional().default('success'),
    jobId: jobId.optional().describe('Idempotency key of the continuation'),
  })
  .strict();

/** `POST /api/jobs`: enqueue now, later (`delay` / `runAt`) or after another job (`after`). */
export const enqueueRequest = z
  .object({
    name: jobName,
    data: payload.optional(),
    ...enqueueOptionsShape,
    after: jobRef.optional().describe('Run as a continuation of this existing job'),
    on: continueOn.optional().describe('With after: success (default) runs only if the parent completed; finished runs either way'),
  })
  .strict()
  .superRefine((b, ctx) => {
    exclusiveTime(b, ctx);
    if (b.on !== undefined && b.after === undefined) {
      ctx.addIssue({ code: 'custom', path: ['on'], message: 'on needs after (the parent job)' });
    }
    if (b.after !== undefined) {
      for (const f of ['delay', 'runAt', 'priority', 'attempts'] as const) {
        if (b[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f} cannot be combined with after` });
      }
    }
  });
export type EnqueueRequest = z.input<typeof enqueueRequest>;

/** Most jobs one `POST /api/jobs/bulk` takes (more: 413). */
export const MAX_BULK_JOBS = 1000;

/** One job of `POST /api/jobs/bulk` and of `job-center enqueue --file` (one NDJSON line). */
export const bulkItem = z
  .object({ name: jobName, data: payload.optional(), ...enqueueOptionsShape })
  .strict()
  .superRefine(exclusiveTime);
export type BulkItem = z.output<typeof bulkItem>;

/** `POST /api/jobs/bulk`: up to {@link MAX_BULK_JOBS} jobs, all enqueued or none. */
export const bulkRequest = z
  .object({ jobs: z.array(bulkItem).min(1).describe(`1 to ${MAX_BULK_JOBS} jobs; more answers 413`) })
  .strict();

/** A newly created job: where to find it and its state right after creation. */
export const created = z.object({
  id: z.string(),
  queue: z.string(),
  name: z.string(),
  state: z.string().describe('waiting, delayed, prioritized, awaiting (a continuation whose parent has not finished), active, completed, failed'),
  duplicate: z.boolean().optional().describe('Present (true) when jobId matched an existing job: nothing new was added'),
});
export type Created = z.output<typeof created>;
