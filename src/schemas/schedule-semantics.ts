import { z } from 'zod';
import { continueOn, jobName, payload } from './fields.js';

/*
 * What a schedule's ticks mean at the edges (docs/SCHEDULES.md): when it starts and ends, what
 * happens to ticks missed while no worker ran, and what runs after each run. Shared by the client,
 * HTTP, the CLI and declared schedules; the OpenAPI document is generated from these.
 */

export const MAX_CATCH_UP = 1000;
export const DEFAULT_MAX_CATCH_UP = 100;

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with offset, e.g. 2030-01-01T09:00:00Z' });

/** BullMQ's own window and run limit of a job scheduler, checked before it is written. */
export const windowShape = {
  startDate: isoTime.optional().describe('No tick before this time (ISO 8601)'),
  endDate: isoTime.optional().describe('No tick after this time (ISO 8601); then the schedule is ended, never overdue'),
  limit: z
    .number({ error: 'must be a number of runs' })
    .int('must be a whole number of runs')
    .min(1, 'must be from 1 to 1000000000')
    .max(1_000_000_000, 'must be from 1 to 1000000000')
    .optional()
    .describe('At most this many ticks in all; then the schedule is ended'),
};

export function refineWindow(r: { startDate?: string; endDate?: string }, ctx: z.RefinementCtx): void {
  if (r.startDate !== undefined && r.endDate !== undefined && Date.parse(r.endDate) <= Date.parse(r.startDate)) {
    ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'endDate must be after startDate' });
  }
}

export const misfire = z
  .enum(['once', 'skip', 'all'], { error: 'must be "once", "skip" or "all"' })
  .describe(
    'Ticks missed while no worker ran: once (default) runs the pending tick late, once; skip runs no tick late and records the ' +
      'missed ones as missed; all runs every missed tick in order (at most maxCatchUp)',
  );
export type MisfirePolicy = z.output<typeof misfire>;

export const maxCatchUp = z
  .number({ error: 'must be a number of runs' })
  .int('must be a whole number of runs')
  .min(1, `must be from 1 to ${MAX_CATCH_UP}`)
  .max(MAX_CATCH_UP, `must be from 1 to ${MAX_CATCH_UP}`)
  .describe(`With misfire "all": at most this many late runs after an outage, the most recent ticks (default ${DEFAULT_MAX_CATCH_UP})`);

/** A job to run after every run of a schedule, with the run as its parent. */
export const then = z
  .object({
    name: jobName,
    data: payload.optional(),
    on: continueOn.optional().describe('success (default): only after a completed run; finished: after failed runs too'),
  })
  .strict()
  .describe('Runs job `name` after each run of the schedule finishes (not after skipped or missed ticks)');
export type ThenSpec = z.output<typeof then>;

/** The per-schedule options of this module, as they sit next to `overlap` and `grace`. */
export const semanticsShape = {
  misfire: misfire.optional(),
  maxCatchUp: maxCatchUp.optional(),
  then: then.optional(),
};

export function refineSemantics(r: { misfire?: string; maxCatchUp?: number }, ctx: z.RefinementCtx): void {
  if (r.maxCatchUp !== undefined && r.misfire !== 'all') {
    ctx.addIssue({ code: 'custom', path: ['maxCatchUp'], message: 'maxCatchUp applies to misfire "all" only' });
  }
}

export const semantics = z.object(semanticsShape).strict().superRefine(refineSemantics);
