import { z } from 'zod';

/** What an alert is about. `*.recovered` closes an incident of the same subject. */
export const alertType = z.enum([
  'schedule.failed',
  'schedule.overdue',
  'schedule.repaired',
  'schedule.recovered',
  'queue.backlog',
  'queue.failure_rate',
  'queue.no_workers',
  'queue.recovered',
]);
export type AlertType = z.output<typeof alertType>;

export const severity = z.enum(['critical', 'error', 'warning', 'info']);
export type Severity = z.output<typeof severity>;

/** One incident (or a one-off event such as a repair), as `GET /api/alerts` lists it. */
export const incident = z.object({
  id: z.string(),
  type: alertType,
  severity,
  schedule: z.string().optional(),
  queue: z.string().optional(),
  message: z.string(),
  openedAt: z.string(),
  recoveredAt: z
    .string()
    .nullable()
    .describe('When it cleared (a *.recovered alert was sent); null while open; equal to openedAt for one-off events (schedule.repaired)'),
  details: z.record(z.string(), z.unknown()),
});
export type Incident = z.output<typeof incident>;

/** `?limit=N` of `GET /api/alerts`. */
export const alertsQuery = z
  .object({
    limit: z
      .string()
      .regex(/^[1-9]\d{0,2}$/, 'must be a whole number from 1 to 500')
      .transform(Number)
      .pipe(z.number().max(500, 'must be a whole number from 1 to 500'))
      .optional()
      .describe('At most this many incidents, newest first (1-500, default 50)'),
  })
  .strict();
