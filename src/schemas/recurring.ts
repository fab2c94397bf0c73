import { z } from 'zod';
import { validateCron } from '../cron.js';
import { ValidationError } from '../errors.js';
import { misfire, refineSemantics, refineWindow, semanticsShape, then, windowShape } from './schedule-semantics.js';
import { jobName, MAX_EVERY_MS, MIN_EVERY_MS, payload } from './fields.js';
import { grace, scheduleHealthShape } from './schedule-health.js';

/*
 * How often a recurring job fires. One rule everywhere (client, HTTP, CLI, producers' declared
 * schedules): exactly one of `cron` and `every`; `tz` only with `cron`, because BullMQ ignores
 * the time zone of an interval schedule and accepting it would suggest otherwise.
 */
/** What a cron schedule does when a DST change skips or repeats a local time (docs/SCHEDULES.md). */
export const dstPolicy = z
  .object({
    gap: z
      .enum(['shift', 'skip'], { error: 'must be "shift" or "skip"' })
      .optional()
      .describe('A local time that does not exist (spring forward): run once at the end of the gap (shift, default) or not at all (skip)'),
    overlap: z
      .enum(['once', 'both'], { error: 'must be "once" or "both"' })
      .optional()
      .describe('A local time that occurs twice (fall back): run at its first occurrence (once, default) or at both'),
  })
  .strict()
  .describe('DST policy of a cron schedule with a time zone (cron only)');

export const repeatShape = {
  cron: z
    .string({ error: 'must be a cron pattern (a string)' })
    .optional()
    .describe('5 fields (minute hour day month weekday) or 6 with seconds first. Exactly one of cron and every.'),
  every: z
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(MIN_EVERY_MS, `must be from ${MIN_EVERY_MS} to ${MAX_EVERY_MS} (ms)`)
    .max(MAX_EVERY_MS, `must be from ${MIN_EVERY_MS} to ${MAX_EVERY_MS} (ms)`)
    .optional()
    .describe('Interval in milliseconds. Exactly one of cron and every.'),
  tz: z
    .string({ error: 'must be an IANA time zone name' })
    .optional()
    .describe('IANA time zone of the cron pattern, e.g. Europe/Paris (cron only; default: the processes\' zone)'),
  dst: dstPolicy.optional(),
  ...windowShape,
};

/** Cross-field rules of a repeat, and the cron pattern and zone checked the way BullMQ reads them. */
export function refineRepeat(
  r: { cron?: string; every?: number; tz?: string; dst?: z.output<typeof dstPolicy>; startDate?: string; endDate?: string },
  ctx: z.RefinementCtx,
): void {
  refineWindow(r, ctx);
  if (r.cron !== undefined && r.every !== undefined) {
    for (const path of ['cron', 'every']) ctx.addIssue({ code: 'custom', path: [path], message: 'give either cron or every, not both' });
    return;
  }
  if (r.cron === undefined && r.every === undefined) {
    ctx.addIssue({ code: 'custom', path: ['cron'], message: 'cron (a pattern) or every (milliseconds) is required' });
    return;
  }
  if (r.tz !== undefined && r.every !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['tz'], message: 'tz applies to cron schedules only (an every interval has no time zone)' });
    return;
  }
  if (r.dst !== undefined && r.every !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['dst'], message: 'dst applies to cron schedules only (an every interval has no wall-clock times)' });
    return;
  }
  if (r.cron !== undefined) {
    try {
      validateCron(r.cron, r.tz, { dst: r.dst });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const d of err.details) {
        ctx.addIssue({ code: 'custom', path: [d.field], message: d.field === 'cron' ? err.message : d.message });
      }
    }
  }
}

/** A schedule's repeat as the client takes it: `{ cron, tz? }` or `{ every }`. */
export const repeat = z.object(repeatShape).strict().superRefine(refineRepeat);

export const overlap = z
  .enum(['allow', 'skip'], { error: 'must be "allow" or "skip"' })
  .describe('skip: a tick is skipped while the previous run of this schedule is still active (default allow)');

/** `PUT /api/recurring/:id` and `cli recurring upsert`: create or update a recurring job. */
export const recurringRequest = z
  .object({
    name: jobName,
    data: payload.optional(),
    ...repeatShape,
    overlap: overlap.optional(),
    grace: grace.optional(),
    ...semanticsShape,
  })
  .strict()
  .superRefine((r, ctx) => {
    refineRepeat(r, ctx);
    refineSemantics(r, ctx);
  });
export type RecurringRequest = z.input<typeof recurringRequest>;

/** A recurring job as listed, with its next run time. */
export const scheduleInfo = z.object({
  id: z.string(),
  name: z.string(),
  queue: z.string(),
  cron: z.string().optional(),
  every: z.number().int().optional(),
  tz: z.string().optional(),
  dst: dstPolicy.optional(),
  startDate: z.string().optional(),
  endDate: z.string().optional(),
  limit: z.number().int().optional(),
  misfire: misfire,
  maxCatchUp: z.number().int().optional().describe('With misfire "all"'),
  then: then.optional(),
  description: z.string().describe('The pattern in words, e.g. "At 02:30, every day (Europe/Paris)" or "Every 5 seconds"'),
  next: z.string().nullable().describe('The next run time (ISO 8601), or null when the schedule has ended'),
  data: z.unknown(),
  overlap: z.enum(['allow', 'skip']),
  owner: z.string().nullable().describe('The producer that declares it in code (it re-creates it if removed), or null'),
  ...scheduleHealthShape,
});
export type ScheduleInfo = z.output<typeof scheduleInfo>;
