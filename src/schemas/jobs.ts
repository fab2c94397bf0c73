import { z } from 'zod';

const isoOrNull = z.string().nullable().describe('ISO 8601 time, or null');

/** A job as the client, the HTTP API and the CLI report it. */
export const jobInfo = z.object({
  id: z.string(),
  queue: z.string(),
  name: z.string(),
  state: z.string().describe('waiting, delayed, prioritized, awaiting, active, completed, failed'),
  data: z.unknown(),
  progress: z.unknown().describe('A number 0-100 or an object, as reported by the handler'),
  attemptsMade: z.number().int(),
  returnValue: z.unknown().describe("The handler's return value once completed, else null"),
  failedReason: z.string().nullable(),
  createdAt: isoOrNull,
  processedAt: isoOrNull,
  finishedAt: isoOrNull,
});
export type JobInfo = z.output<typeof jobInfo>;

/** A job put back in its queue (retry, promote): where it is and its state now. */
export const jobMoved = z.object({
  queue: z.string(),
  id: z.string(),
  state: z.string().describe('The state right after the operation, e.g. waiting'),
});
export type JobMoved = z.output<typeof jobMoved>;

/** A job by queue and id, as answers report it. */
export const jobRefOut = z.object({ queue: z.string(), id: z.string() });
