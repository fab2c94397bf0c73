import type { JobsOptions } from 'bullmq';
import { jobs } from '../contracts/index.js';
import { ValidationError } from '../errors.js';
import { jobId as jobIdSchema } from '../schemas/fields.js';
import { parseRequest } from '../schemas/parse.js';
import type { JobContract } from './contract.js';

/**
 * The contract registered under `name`.
 * @throws ValidationError (field `name`) listing the known job names.
 */
export function contractFor(name: unknown): JobContract {
  const contract = typeof name === 'string' && Object.hasOwn(jobs, name) ? (jobs as Record<string, JobContract>)[name] : undefined;
  if (!contract) {
    const known = Object.keys(jobs).join(', ');
    throw new ValidationError(`Unknown job name ${JSON.stringify(name)}; known jobs: ${known}`, [
      { field: 'name', message: `name must be one of: ${known}` },
    ]);
  }
  return contract;
}

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
