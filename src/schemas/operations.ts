import { z } from 'zod';
import { jobName, queueName } from './fields.js';
import { jobInfo } from './jobs.js';

/*
 * Requests and answers of the operations on existing jobs and queues (what the board does):
 * list/search, logs, cancel/remove, promote, retry failed, pause/resume, clean, summary.
 */

/** States a job can be listed by. */
export const LISTABLE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'] as const;
export const listableState = z.enum(LISTABLE_STATES, { error: `must be one of: ${LISTABLE_STATES.join(', ')}` });

/** Query-string numbers arrive as strings; client calls pass numbers. */
/** A whole number, also as a query string's digits (not `0x10`, `1e2` or ` 7`, which Number() reads). */
const intFrom = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v),
    z
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(min, `must be from ${min} to ${max}`)
      .max(max, `must be from ${min} to ${max}`),
  );

/** True when every `~`-separated part of a cursor is valid percent-encoding (decodeURIComponent would throw). */
function decodable(cursor: string): boolean {
  try {
    for (const part of cursor.split('~')) decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}

const time = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with offset, e.g. 2030-01-01T09:00:00Z' });

/** `GET /api/jobs` and `client.listJobs`: newest first (by creation time), cursor-paginated. */
export const jobListQuery = z
  .object({
    queue: queueName.optional().describe('Only this queue (default: every queue)'),
    state: listableState.optional().describe('Only jobs in this state (default: every state)'),
    name: jobName.optional().describe('Only jobs of this name'),
    from: time.optional().describe('Only jobs created at or after this time'),
    to: time.optional().describe('Only jobs created before this time'),
    limit: intFrom(1, 500).optional().default(50).describe('Page size, 1-500 (default 50)'),
    cursor: z
      .string()
      .regex(/^\d+~[^~]+~[^~]+$/, 'must be the nextCursor of a previous page')
      // Its queue and id parts are percent-encoded: one that does not decode is not a cursor we gave.
      .refine(decodable, 'must be the nextCursor of a previous page')
      .optional()
      .describe('nextCursor of the previous page'),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.from !== undefined && q.to !== undefined && Date.parse(q.from) >= Date.parse(q.to)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be later than from' });
    }
  });
export type JobListQuery = z.input<typeof jobListQuery>;

export const jobList = z.object({
  jobs: z.array(jobInfo),
  nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page'),
});
export type JobList = z.output<typeof jobList>;

/** `GET /api/jobs/:queue/:id/logs`. */
export const jobLogsQuery = z
  .object({
    start: intFrom(0, 1_000_000).optional().default(0).describe('Index of the first line (0 = oldest)'),
    limit: intFrom(1, 1000).optional().default(100).describe('How many lines, 1-1000 (default 100)'),
  })
  .strict();
export const jobLogs = z.object({
  queue: z.string(),
  id: z.string(),
  lines: z.array(z.string()).describe('Oldest first'),
  total: z.number().int().describe('How many lines the job has in all'),
});
export type JobLogs = z.output<typeof jobLogs>;

/** What cancelling a job did. */
export const cancelled = z.object({
  queue: z.string(),
  id: z.string(),
  outcome: z
    .enum(['removed', 'cancelled', 'cancelling', 'finished'])
    .describe(
      'removed: it was waiting, delayed, prioritized or finished, and is gone (also an active job whose run failed on its own as the ' +
        'abort was sent, and was waiting for its next attempt); cancelled: an awaiting continuation will never run, or an active job ' +
        'was aborted and ended failed; cancelling: the abort was sent but the job had not ended when the answer was sent; ' +
        'finished: the active job ended (completed, or failed on its own) before the abort reached it, and nothing was cancelled ' +
        '(state unknown: it ended and retention removed it at once, so whether the abort ended it is not known)',
    ),
  state: z.string().describe('The state now (removed, cancelled, failed, completed, unknown, or active while cancelling)'),
});
export type Cancelled = z.output<typeof cancelled>;

/** `POST /api/queues/:queue/retry`: every failed job of a queue, optionally of one name. */
export const retryFailedRequest = z
  .object({
    name: jobName.optional().describe('Only failed jobs of this name (default: all)'),
  })
  .strict();
export const retriedCount = z.object({ queue: z.string(), retried: z.number().int().describe('How many failed jobs went back to waiting') });

/** `POST /api/queues/:queue/clean`: removes jobs of one state older than a grace period. */
export const CLEANABLE_STATES = ['completed', 'failed', 'delayed', 'waiting', 'prioritized'] as const;
export const cleanRequest = z
  .object({
    state: z.enum(CLEANABLE_STATES, { error: `must be one of: ${CLEANABLE_STATES.join(', ')}` }).describe('Which jobs to remove'),
    olderThanMs: z
      .number({ error: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(0, 'must be >= 0 (milliseconds)')
      .describe('Only jobs older than this (by finish time for completed/failed, else creation time)'),
    limit: z.number().int().min(1).max(100_000).optional().default(1000).describe('At most this many (default 1000)'),
  })
  .strict();
export type CleanRequest = z.input<typeof cleanRequest>;
export const cleaned = z.object({ queue: z.string(), state: z.string(), removed: z.number().int() });

/** A queue at a glance. */
export const queueSummary = z.object({
  name: z.string(),
  paused: z.boolean(),
  counts: z.record(z.string(), z.number().int()).describe('Jobs per state'),
  workers: z.number().int().describe('Workers connected to this queue now'),
  oldestWaitingAgeMs: z.number().int().nullable().describe('How long the oldest waiting job has waited, or null when none waits'),
  shards: z.number().int().optional().describe('A sharded queue: how many shards the counts and workers are summed over'),
});
export type QueueSummary = z.output<typeof queueSummary>;

export const queuePaused = z.object({ name: z.string(), paused: z.boolean() });
