import { PRIORITY_LIMIT, QueueKeys } from 'bullmq';
import { z } from 'zod';
import { CENTER_ID_PREFIXES } from '../jobs/center-ids.js';

/*
 * The request fields every entry point shares (client, HTTP, CLI). Each rule is written here once;
 * the OpenAPI document is generated from these schemas, so the docs cannot drift from the checks.
 */

/** Ten years: longer delays are almost certainly a unit mistake (seconds for milliseconds). */
export const MAX_DELAY_MS = 10 * 365 * 24 * 3600 * 1000;
/** A leap year: the longest `every` a recurring job may have. */
export const MAX_EVERY_MS = 366 * 24 * 3600 * 1000;
export const MIN_EVERY_MS = 100;

/** A job name; whether it is in the catalog is checked against the injected contracts. */
export const jobName = z.string({ error: 'must be a job name (a string)' }).min(1).describe('A job name from the catalog');

/*
 * Ids BullMQ or Redis would read as numbers. BullMQ refuses integer ids ("Custom Id cannot be
 * integers") and its Lua scripts convert number-like ids (Lua's tonumber accepts `-1.5`, `1e3`,
 * `0x1f`, `inf`, `nan`), which fails with odd errors, sometimes after the job was written.
 */
const NUMBER_LIKE = [
  /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i,
  /^[+-]?0x[0-9a-f]*\.?[0-9a-f]*(p[+-]?\d+)?$/i,
  /^[+-]?(inf|infinity|nan)$/i,
];

/**
 * Ids that are the names of a queue's own keys (`<prefix>:<queue>:<id>` is where a job's hash goes,
 * so job `wait` would be the wait list): Redis answers WRONGTYPE, or BullMQ takes the queue's `meta`
 * hash for an existing job. BullMQ's own list (QueueKeys), plus `metrics`, whose keys
 * (`metrics:completed`, …) a job's sub-keys would meet.
 */
const RESERVED_IDS: ReadonlySet<string> = new Set([...Object.keys(new QueueKeys().getKeys('q')).filter(Boolean), 'metrics']);

/** True for an id that names one of a queue's own keys (`wait`, `meta`, …): no job has it, or can. */
export function isQueueKeyName(id: string): boolean {
  return RESERVED_IDS.has(id);
}

/**
 * A caller-chosen job id (idempotency key), as BullMQ accepts it: no `:` (BullMQ's key separator),
 * nothing number-like (`42`, `-1`, `-1.5`, `1e3`, `0x1f`), not only dots (`.` and `..` are path
 * segments HTTP clients drop, so `/api/jobs/<queue>/..` could never reach it), and not the name of
 * one of the queue's own keys (RESERVED_IDS).
 */
export const jobId = z
  .string({ error: 'must be a string' })
  .regex(/^[^:]*$/, 'must not contain ":" (BullMQ reserves it)')
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1-128 letters, digits, ".", "_" or "-"')
  .refine((s) => !NUMBER_LIKE.some((re) => re.test(s)), 'must not look like a number (such as 42, -1, 1.5 or 1e3: BullMQ and Redis would read it as one); add a letter, e.g. "order-42"')
  .refine((s) => !/^\.+$/.test(s), 'must not be only dots (HTTP clients drop "." and ".." from URLs)')
  .refine((s) => !RESERVED_IDS.has(s), `must not be the name of one of the queue's own keys (${[...RESERVED_IDS].join(', ')}); add a prefix, e.g. "order-wait"`)
  .refine(
    (s) => !CENTER_ID_PREFIXES.some((p) => s.startsWith(p)),
    `must not start with ${CENTER_ID_PREFIXES.map((p) => `"${p}"`).join(', ')}: the center names continuations and batch jobs so (for a continuation's key, pass jobId to continueWith)`,
  )
  .describe(`1-128 letters, digits, ".", "_" or "-"; not a number (42, -1, 1.5, 1e3, 0x1f), not only dots, not the name of a queue key (wait, id, meta, …), not starting with ${CENTER_ID_PREFIXES.join(', ')}`);

export const delayMs = z
  .number({ error: 'must be a number of milliseconds' })
  .int('must be a whole number of milliseconds')
  .min(0, 'must be >= 0 (milliseconds)')
  .max(MAX_DELAY_MS, `must be at most ${MAX_DELAY_MS} (10 years, in milliseconds)`)
  .describe('Milliseconds to wait before the job may run');

export const runAt = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time with offset, e.g. 2030-01-01T09:00:00Z' })
  // The same bound as delay: a time decades away is a unit or typing mistake, not a plan.
  // (Not a time at all, e.g. offset +25:00: the format's message says so; "within 10 years" misled.)
  .refine((s) => Number.isNaN(Date.parse(s)) || Date.parse(s) - Date.now() <= MAX_DELAY_MS, 'must be within 10 years from now')
  .describe('ISO 8601 time with offset; a time in the past runs now');

// BullMQ's own bound (2^21 - 1): its add throws above it, after our validation would have passed.
export const priority = z
  .number({ error: 'must be a number' })
  .int('must be a whole number')
  .min(1, `must be from 1 (highest) to ${PRIORITY_LIMIT}`)
  .max(PRIORITY_LIMIT, `must be from 1 (highest) to ${PRIORITY_LIMIT}`)
  .describe('1 = highest; default: none (FIFO). Jobs without a priority run before any prioritized job (BullMQ)');

export const attempts = z
  .number({ error: 'must be a number' })
  .int('must be a whole number')
  .min(1, 'must be from 1 to 1000')
  .max(1000, 'must be from 1 to 1000')
  .describe("Total tries; overrides the contract's default");

export const continueOn = z
  .enum(['success', 'finished'], { error: 'must be "success" or "finished"' })
  .describe('success: only if the parent completed; finished: either way');

export const queueName = z.string({ error: 'must be a queue name' }).min(1).describe('A queue of the catalog');

/** A job by queue and id. */
export const jobRef = z
  .object({
    queue: queueName,
    id: z
      .string({ error: 'must be a job id' })
      .min(1)
      // Such a "job" would be one of the queue's own keys (its wait list, its meta hash…), which
      // the registration would take for an existing parent.
      .refine((s) => !RESERVED_IDS.has(s), 'names one of the queue\'s own keys, not a job; no job can have this id'),
  })
  .strict()
  .describe('A job by queue and id');

export const scheduleId = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1-100 letters, digits, ".", "_" or "-"')
  // "." and ".." are path segments HTTP clients remove: /api/recurring/.. could never be reached.
  .refine((s) => !/^\.+$/.test(s), 'must not be only dots (HTTP clients drop "." and ".." from URLs); add a letter')
  .describe('Recurring job id: 1-100 letters, digits, ".", "_" or "-"; not only dots');

/** The JSON payload of a job; checked against its contract's schema separately. */
export const payload = z.unknown().describe("The job's payload, checked against its contract (default {})");
