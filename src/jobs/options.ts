import type { JobsOptions } from 'bullmq';
import { jobs } from '../contracts/index.js';
import { ValidationError } from '../errors.js';
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

const JOB_ID_RE = /^[A-Za-z0-9_.-]{1,128}$/;
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
const RULE = '1-128 letters, digits, ".", "_" or "-", not a number (such as 42, -1, 1.5 or 1e3) and not only dots';

/** Why `id` cannot be a job id, or undefined when it can. */
export function jobIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return `must be a string (${RULE})`;
  if (!JOB_ID_RE.test(id)) return id.includes(':') ? 'must not contain ":" (BullMQ reserves it)' : `must be ${RULE}`;
  if (NUMBER_LIKE.some((re) => re.test(id))) return 'must not look like a number (BullMQ and Redis would read it as one); add a letter, e.g. "order-42"';
  // "." and ".." are path segments HTTP clients remove: GET /api/jobs/<queue>/.. could not reach it.
  if (/^\.+$/.test(id)) return 'must not be only dots (HTTP clients drop "." and ".." from URLs)';
  return undefined;
}

/**
 * Checks a caller-chosen job id (idempotency key) against the rule BullMQ accepts: see
 * {@link jobIdProblem}.
 * @throws ValidationError naming `field`.
 */
export function validateJobId(id: unknown, field = 'jobId'): string {
  const problem = jobIdProblem(id);
  if (problem !== undefined) {
    throw new ValidationError(`Invalid ${field} ${JSON.stringify(id)}: ${field} ${problem}`, [{ field, message: `${field} ${problem}` }]);
  }
  return id as string;
}
