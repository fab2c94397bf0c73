import { z } from 'zod';

/*
 * What the center says about how a schedule has been running: its runs, its health, the grace
 * before it counts as overdue. Shared by the client, the HTTP routes and their OpenAPI document.
 */

/** The largest grace: a leap year. */
export const MAX_GRACE_MS = 366 * 24 * 3600 * 1000;

export const grace = z
  .number({ error: 'must be a number of milliseconds' })
  .int('must be a whole number of milliseconds')
  .min(0, `must be from 0 to ${MAX_GRACE_MS} (ms)`)
  .max(MAX_GRACE_MS, `must be from 0 to ${MAX_GRACE_MS} (ms)`)
  .describe('Milliseconds after a tick before a run that has not started makes the schedule overdue; default max(60000, 10 % of the period)');

export const runOutcome = z
  .enum(['completed', 'failed', 'skipped', 'missed'])
  .describe('completed; failed after all retries; skipped by overlap skip; missed: dropped by a misfire policy');
export type RunOutcome = z.output<typeof runOutcome>;

/** One run of a schedule. Times are ISO 8601, durations in ms. */
export const runRecord = z.object({
  tick: z.string().describe('The tick this run was created for'),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().int().nullable(),
  latenessMs: z.number().int().nullable().describe('startedAt − tick'),
  outcome: runOutcome,
  error: z.string().nullable(),
  attempts: z.number().int(),
});
export type RunRecord = z.output<typeof runRecord>;

export const health = z
  .enum(['ok', 'late', 'failing', 'overdue', 'paused', 'pending', 'ended'])
  .describe(
    'late: the last run started > 1 s after its tick; failing: the last run failed after all retries; overdue: no run started ' +
      'within tick + grace; paused; pending: never ran; ended: past its end date or run limit',
  );
export type Health = z.output<typeof health>;

/** What `GET /api/recurring` adds to each schedule. */
export const scheduleHealthShape = {
  grace: z.number().int().describe('The grace in ms (declared or default)'),
  paused: z.boolean().describe('Paused: keeps its definition, does not fire, is never overdue'),
  lastRun: runRecord.nullable().describe('The most recent run, or null before the first'),
  health,
};

/** `?limit=N` of `GET /api/recurring/:id/runs`. */
export const runsQuery = z
  .object({
    limit: z
      .string()
      .regex(/^[1-9]\d{0,5}$/, 'must be a whole number >= 1')
      .transform(Number)
      .optional()
      .describe('At most this many runs (default and cap: SCHEDULE_HISTORY_LIMIT)'),
  })
  .strict();
