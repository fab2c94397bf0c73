import { z } from 'zod';
import { attempts, continueOn, delayMs, jobId, jobName, jobRef, MAX_DELAY_MS, payload, priority, runAt } from './fields.js';

/**
 * Deduplication on BullMQ's `deduplication` option. `drop`: while a job with this key is unfinished (and,
 * with ttlMs, for at most ttlMs), new ones are dropped and the existing one stands. `replace`
 * (debounce): the job waits ttlMs; each new one within that time replaces it, so only the latest runs.
 */
export const dedupe = z
  .object({
    key: z
      .string({ error: 'must be a string' })
      .regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'must be 1-200 letters, digits, ".", "_", ":" or "-"')
      .describe('Jobs with the same key are deduplicated (per queue)'),
    ttlMs: z
      .number({ error: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(1, 'must be >= 1 (milliseconds)')
      .max(MAX_DELAY_MS, 'must be at most 10 years (in milliseconds)')
      .optional()
      .describe('drop: the key expires after this long even if the job still exists; replace: the debounce window (required)'),
    mode: z.enum(['drop', 'replace'], { error: 'must be "drop" or "replace"' }).optional().default('drop').describe('Default drop'),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.mode === 'replace' && d.ttlMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['ttlMs'], message: 'ttlMs (the debounce window) is required with mode replace' });
    }
  });

/** Options of one enqueue, shared by `client.enqueue`, `POST /api/jobs` and `cli enqueue|schedule`. */
export const enqueueOptionsShape = {
  jobId: jobId.optional().describe('Idempotency key: a second enqueue with the same key adds nothing (200, duplicate: true)'),
  delay: delayMs.optional(),
  runAt: runAt.optional(),
  priority: priority.optional(),
  attempts: attempts.optional(),
  shardKey: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('Sharded queues: jobs with the same shardKey go to one shard and run in order (FIFO holds per shard only)'),
  dedupe: dedupe.optional(),
};

function exclusiveTime(b: { delay?: unknown; runAt?: unknown; jobId?: unknown; dedupe?: unknown }, ctx: z.RefinementCtx): void {
  if (b.delay !== undefined && b.runAt !== undefined) {
    for (const path of ['delay', 'runAt']) ctx.addIssue({ code: 'custom', path: [path], message: 'give either delay or runAt, not both' });
  }
  if (b.dedupe !== undefined && b.jobId !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['dedupe'], message: 'give either jobId (one job per id, forever) or dedupe (per key, for a time), not both' });
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

/** Most parents one continuation may wait for (`after: [...]`). */
export const MAX_PARENTS = 1000;

/** `after`: one parent, or several (a join: the continuation runs once after all of them). */
export const after = z.union([
  jobRef,
  z.array(jobRef).min(1, 'after needs at least one parent').max(MAX_PARENTS, `after takes at most ${MAX_PARENTS} parents`),
]);

/** `POST /api/jobs`: enqueue now, later (`delay` / `runAt`) or after other jobs (`after`). */
export const enqueueRequest = z
  .object({
    name: jobName,
    data: payload.optional(),
    ...enqueueOptionsShape,
    after: after
      .optional()
      .describe(`Run as a continuation of this existing job, or once after all of several (an array of up to ${MAX_PARENTS}; the answer names the join, see GET /api/batches/{join})`),
    on: continueOn.optional().describe('With after: success (default) runs only if the parent(s) completed; finished runs either way'),
  })
  .strict()
  .superRefine((b, ctx) => {
    exclusiveTime(b, ctx);
    if (b.on !== undefined && b.after === undefined) {
      ctx.addIssue({ code: 'custom', path: ['on'], message: 'on needs after (the parent job)' });
    }
    if (b.after !== undefined) {
      for (const f of ['delay', 'runAt', 'priority', 'attempts', 'dedupe', 'shardKey'] as const) {
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
  shard: z.number().int().min(0).optional().describe('Sharded queues only: the shard the job went to'),
  deduplicated: z.boolean().optional().describe('Present (true) when dedupe dropped this job: id is the job that stands'),
  join: z.string().optional().describe('after with several parents: the join (a batch) whose progress GET /api/batches/{join} shows'),
});
export type Created = z.output<typeof created>;
