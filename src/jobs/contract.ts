import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { ValidationError, issuesFromZod } from '../errors.js';
import { MAX_SHARDS } from '../queues/shards.js';
import { assertDepth } from './depth.js';

/** Retry, retention and timeout defaults of one job type; an enqueue call may override per job. */
export interface JobDefaults {
  /** Total tries, first run included. @defaultValue 3 */
  readonly attempts: number;
  /** @defaultValue exponential, 1 s base, 50 % jitter */
  readonly backoff: NonNullable<JobsOptions['backoff']>;
  /** Completed jobs kept. @defaultValue 1 day or 1000 jobs, whichever is fewer */
  readonly removeOnComplete: NonNullable<JobsOptions['removeOnComplete']>;
  /** Failed jobs kept, with reason and stack. @defaultValue 7 days or 5000 jobs */
  readonly removeOnFail: NonNullable<JobsOptions['removeOnFail']>;
  /** A run longer than this fails (and is retried by `attempts`); 0 = no limit. @defaultValue 0 */
  readonly timeoutMs: number;
}

export const DEFAULT_JOB_DEFAULTS: JobDefaults = Object.freeze({
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
  timeoutMs: 0,
});

/** A job type declared once: producers, clients and the worker all read it from here. */
export interface JobContract<Name extends string = string, Schema extends z.ZodType = z.ZodType> {
  readonly name: Name;
  readonly queue: string;
  readonly description: string;
  readonly schema: Schema;
  readonly defaults: JobDefaults;
  /**
   * BullMQ queues (shards) behind the contract's queue, each in its own Redis Cluster slot; jobs
   * of one queue are FIFO per shard only. Every contract of one queue must agree (or omit it).
   * `QUEUE_SHARDS` overrides it per queue. @defaultValue 1 (one BullMQ queue, as without sharding)
   */
  readonly shards?: number;
}

/** What a caller passes when enqueueing (before defaults are applied by the schema). */
export type PayloadInput<C extends JobContract> = z.input<C['schema']>;
/** What a handler receives (after the schema applied defaults). */
export type Payload<C extends JobContract> = z.output<C['schema']>;

const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
const QUEUE_RE = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Declares a job type.
 * @example
 * export const sendEmail = defineJob({ name: 'send-email', queue: 'mail', schema: z.object({ to: z.email() }) });
 */
export function defineJob<const Name extends string, Schema extends z.ZodType>(spec: {
  name: Name;
  queue: string;
  schema: Schema;
  description?: string;
  defaults?: Partial<JobDefaults>;
  shards?: number;
}): JobContract<Name, Schema> {
  if (!NAME_RE.test(spec.name)) {
    throw new Error(`Expected job name to match ${NAME_RE} (kebab-case), got ${JSON.stringify(spec.name)}`);
  }
  if (!QUEUE_RE.test(spec.queue)) {
    throw new Error(`Expected queue name to match ${QUEUE_RE} (kebab-case), got ${JSON.stringify(spec.queue)}`);
  }
  const defaults = { ...DEFAULT_JOB_DEFAULTS, ...spec.defaults };
  if (!Number.isInteger(defaults.attempts) || defaults.attempts < 1) {
    throw new Error(`Expected defaults.attempts of "${spec.name}" to be an integer >= 1, got ${defaults.attempts}`);
  }
  // BullMQ's own strategies only: the workers register no custom one, and a job with an unknown
  // strategy stayed active until its lock expired and then failed as "stalled", its error lost.
  const backoff = defaults.backoff;
  const backoffType = typeof backoff === 'number' ? 'fixed' : backoff.type;
  const backoffDelay = typeof backoff === 'number' ? backoff : (backoff.delay ?? 0);
  if (!['fixed', 'exponential'].includes(backoffType) || !Number.isFinite(backoffDelay) || backoffDelay < 0) {
    throw new Error(
      `Expected defaults.backoff of "${spec.name}" to be a number of ms or { type: 'fixed' | 'exponential', delay: ms >= 0 }, got ${JSON.stringify(backoff)}`,
    );
  }
  if (!Number.isInteger(defaults.timeoutMs) || defaults.timeoutMs < 0) {
    throw new Error(`Expected defaults.timeoutMs of "${spec.name}" to be a whole number of ms >= 0 (0: no timeout), got ${defaults.timeoutMs}`);
  }
  if (spec.shards !== undefined && (!Number.isInteger(spec.shards) || spec.shards < 1 || spec.shards > MAX_SHARDS)) {
    throw new Error(`Expected shards of "${spec.name}" to be an integer from 1 to ${MAX_SHARDS}, got ${spec.shards}`);
  }
  return Object.freeze({
    name: spec.name,
    queue: spec.queue,
    description: spec.description ?? '',
    schema: spec.schema,
    defaults: Object.freeze(defaults),
    ...(spec.shards !== undefined ? { shards: spec.shards } : {}),
  });
}

/**
 * Checks `data` against the contract's schema, after the nesting limit (MAX_PAYLOAD_DEPTH) that
 * keeps recursive validation from overflowing the stack, and returns the parse (what a handler gets).
 * @throws ValidationError whose details name each bad field as `data.<path>`.
 */
export function parsePayload<C extends JobContract>(contract: C, data: unknown): Payload<C> {
  assertDepth(data, 'data');
  const result = contract.schema.safeParse(data);
  if (!result.success) {
    const details = issuesFromZod(result.error.issues, 'data');
    throw new ValidationError(
      `Invalid payload for job "${contract.name}": ${details.map((d) => d.message).join('; ')}`,
      details,
    );
  }
  return result.data as Payload<C>;
}

/**
 * Validates `data` (as parsePayload) and returns what to store: the caller's own data, not the
 * parse. The worker parses what is stored before the handler runs, so the schema's transforms and
 * defaults apply once, to what the caller sent (storing the parse ran them twice: a
 * `z.string().transform(Number)` field then failed every job, a `.transform(s => s + '!')` added two).
 */
export function checkPayload(contract: JobContract, data: unknown): unknown {
  parsePayload(contract, data);
  return data;
}

/** A map from job name to contract, the type that makes enqueue calls checked at compile time. */
export type ContractMap = { readonly [name: string]: JobContract };

/** The job names of a contract map. */
export type JobNameOf<C extends ContractMap> = keyof C & string;

/** What job `N` of catalog `C` takes as its payload when enqueued. */
export type PayloadOf<C extends ContractMap, N extends JobNameOf<C>> = PayloadInput<C[N]>;

/**
 * One job of catalog `C` as `{ name, data }`. A union over the names (not `{ name: JobNameOf<C>;
 * data: PayloadOf<C, JobNameOf<C>> }`), so each item's `data` is checked against the payload of
 * the `name` beside it. `data` may be left out only where the schema accepts `undefined`, because
 * that is what a missing `data` is validated as. With the default `ContractMap` (names known only
 * at run time) it is `{ name: string; data?: unknown }`.
 */
export type JobOf<C extends ContractMap> = {
  [N in JobNameOf<C>]: undefined extends PayloadOf<C, N> ? { name: N; data?: PayloadOf<C, N> } : { name: N; data: PayloadOf<C, N> };
}[JobNameOf<C>];

/**
 * A job of catalog `C` that runs after others (a batch's or a schedule's `then`): as {@link JobOf},
 * but a missing `data` is validated as `{}`, so it may be left out where `{}` is a valid payload.
 */
export type ThenJobOf<C extends ContractMap> = {
  // Record<never, never> is the type of `{}`, the object a missing `data` stands for.
  [N in JobNameOf<C>]: Record<never, never> extends PayloadOf<C, N> ? { name: N; data?: PayloadOf<C, N> } : { name: N; data: PayloadOf<C, N> };
}[JobNameOf<C>];

/**
 * The shard count each queue's contracts declare (1 where none does).
 * @throws Error when two contracts of one queue declare different counts.
 */
export function declaredShards(contracts: ContractMap): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  const by: Record<string, string> = {};
  for (const c of Object.values(contracts)) {
    if (c.shards === undefined) {
      out[c.queue] ??= 1;
      continue;
    }
    if (by[c.queue] !== undefined && out[c.queue] !== c.shards) {
      throw new Error(
        `Contracts "${by[c.queue]}" and "${c.name}" of queue "${c.queue}" declare shards ${out[c.queue]} and ${c.shards}: declare one count per queue`,
      );
    }
    out[c.queue] = c.shards;
    by[c.queue] = c.name;
  }
  return out;
}
