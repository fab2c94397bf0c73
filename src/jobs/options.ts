import type { JobsOptions } from 'bullmq';
import { jobId as jobIdSchema } from '../schemas/fields.js';
import { parseRequest } from '../schemas/parse.js';
import type { JobContract } from './contract.js';

/** BullMQ options from the contract's defaults, with per-call overrides on top. */
export function jobOptions(contract: JobContract, overrides: JobsOptions = {}): JobsOptions {
  const d = contract.defaults;
  return {
    attempts: d.attempts,
    backoff: d.backoff,
    removeOnComplete: d.removeOnComplete,
    removeOnFail: d.removeOnFail,
    ...overrides,
  };
}

/**
 * Checks a caller-chosen job id (idempotency key) with the shared rule (`schemas/fields.ts`).
 * @throws ValidationError naming `field`.
 */
export function validateJobId(id: unknown, field = 'jobId'): string {
  return parseRequest(jobIdSchema, id, field, field);
}
