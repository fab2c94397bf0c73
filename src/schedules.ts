import type { JobsOptions } from 'bullmq';
import type { DstPolicy } from './cron.js';
import { describeSchedule } from './cron/describe.js';
import type { CenterRepeatOptions } from './cron/repeat-strategy.js';
import { z } from 'zod';
import { NotFoundError, ValidationError } from './errors.js';
import { contractFor, jobOptions } from './jobs/options.js';
import { parsePayload } from './jobs/contract.js';
import type { Queues } from './queues.js';
import { centerKey } from './redis/connection.js';
import { scheduleId as scheduleIdSchema } from './schemas/fields.js';
import { parseRequest } from './schemas/parse.js';
import { overlap as overlapSchema, repeat as repeatSchema, type ScheduleInfo } from './schemas/recurring.js';

/** When a schedule is `skip`, a tick that finds the previous run of the same schedule still active is skipped. */
export type OverlapPolicy = 'allow' | 'skip';

/**
 * How often a schedule fires: a cron pattern (optionally in a time zone, with a DST policy) or a
 * fixed interval in ms. `H` in a pattern takes a value hashed from the schedule id.
 */
export type Repeat = { readonly cron: string; readonly tz?: string; readonly dst?: DstPolicy } | { readonly every: number };

/** A recurring job as the center stores it. */
export interface ScheduleSpec<N extends string = string> {
  readonly id: string;
  readonly repeat: Repeat;
  readonly name: N;
  readonly data: unknown;
  /** @defaultValue 'allow' */
  readonly overlap?: OverlapPolicy;
}

export type { ScheduleInfo };

interface ScheduleMeta {
  queue: string;
  overlap: OverlapPolicy;
  /** The producer that declared it; `null` for schedules made at run time (never pruned by a sync). */
  owner: string | null;
  /** A cron schedule's DST policy when not the default (BullMQ keeps it only on the pending tick). */
  dst?: DstPolicy;
}

export function validateScheduleId(id: string): void {
  parseRequest(scheduleIdSchema, id, 'schedule id', 'id');
}

/** Checks a repeat with the one rule shared by client, HTTP and CLI (`schemas/recurring.ts`). */
export function validateRepeat(repeat: Repeat): void {
  parseRequest(repeatSchema, repeat, 'schedule');
}

const metaSchema = z.object({
  queue: z.string(),
  overlap: z.enum(['allow', 'skip']),
  owner: z.string().nullable(),
  dst: z.object({ gap: z.enum(['shift', 'skip']).optional(), overlap: z.enum(['once', 'both']).optional() }).optional(),
});

/**
 * Recurring jobs on top of BullMQ Job Schedulers. BullMQ keeps the schedule and its one pending
 * job; the center adds a small metadata hash (queue, overlap policy, owning producer) so a schedule
 * can be found by id alone and a producer sync only prunes what that producer declared.
 */
export class Schedules {
  constructor(private readonly queues: Queues) {}

  get #metaKey(): string {
    return centerKey(this.queues.config, 'schedules');
  }

  #declaredKey(owner: string): string {
    return centerKey(this.queues.config, 'declared', owner);
  }

  async meta(id: string): Promise<ScheduleMeta | undefined> {
    const raw = await this.queues.redis.hget(this.#metaKey, id);
    if (!raw) return undefined;
    const parsed = metaSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /** Creates or updates a schedule; validates everything before writing. */
  async upsert(spec: ScheduleSpec, owner: string | null = null): Promise<ScheduleInfo> {
    validateScheduleId(spec.id);
    validateRepeat(spec.repeat);
    const contract = contractFor(spec.name);
    const data = parsePayload(contract, spec.data);
    const overlap = parseRequest(overlapSchema.optional().default('allow'), spec.overlap, 'overlap', 'overlap');
    const previous = await this.meta(spec.id);
    if (previous && previous.queue !== contract.queue) {
      // The job moved queues: the old scheduler must not keep firing.
      await this.queues.get(previous.queue).removeJobScheduler(spec.id);
    }
    const r = spec.repeat as { cron?: string; every?: number; tz?: string; dst?: DstPolicy };
    const dst = r.cron !== undefined ? definedPolicy(r.dst) : undefined;
    const meta: ScheduleMeta = { queue: contract.queue, overlap, owner: owner ?? previous?.owner ?? null, ...(dst ? { dst } : {}) };
    await this.queues.redis.hset(this.#metaKey, spec.id, JSON.stringify(meta));
    const opts: Omit<JobsOptions, 'jobId' | 'repeat' | 'delay' | 'deduplication'> = jobOptions(contract);
    await this.queues.get(contract.queue).upsertJobScheduler(
      spec.id,
      r.cron !== undefined ? cronRepeat(spec.id, r.cron, r.tz, dst) : { every: r.every },
      { name: contract.name, data, opts },
    );
    const info = await this.get(spec.id);
    if (!info) throw new Error(`Schedule ${spec.id} vanished right after it was written`);
    return info;
  }

  async get(id: string): Promise<ScheduleInfo | undefined> {
    const meta = await this.meta(id);
    const queues = meta ? [this.queues.get(meta.queue)] : this.queues.all();
    for (const queue of queues) {
      const s = await queue.getJobScheduler(id);
      if (s) return toInfo(s, queue.name, meta);
    }
    return undefined;
  }

  /** Every schedule of every queue, soonest first. */
  async list(): Promise<ScheduleInfo[]> {
    const metas = await this.queues.redis.hgetall(this.#metaKey);
    const out: ScheduleInfo[] = [];
    for (const queue of this.queues.all()) {
      for (const s of await queue.getJobSchedulers(0, -1, true)) {
        const raw = metas[s.key];
        const meta = raw ? metaSchema.safeParse(JSON.parse(raw)) : undefined;
        out.push(toInfo(s, queue.name, meta?.success ? meta.data : undefined));
      }
    }
    // ISO strings sort by time; schedules without a next run (ended) go last.
    const at = (s: ScheduleInfo) => (s.next ? Date.parse(s.next) : Infinity);
    return out.sort((a, b) => at(a) - at(b) || a.id.localeCompare(b.id));
  }

  /** @returns false when no such schedule exists. */
  async remove(id: string): Promise<boolean> {
    validateScheduleId(id);
    const meta = await this.meta(id);
    let removed = false;
    for (const queue of meta ? [this.queues.get(meta.queue)] : this.queues.all()) {
      removed = (await queue.removeJobScheduler(id)) || removed;
    }
    await this.queues.redis.hdel(this.#metaKey, id);
    return removed;
  }

  /** Runs the schedule's job once now; the schedule itself is unchanged. */
  async trigger(id: string): Promise<{ id: string; queue: string }> {
    validateScheduleId(id);
    const info = await this.get(id);
    if (!info) throw new NotFoundError(`No schedule with id ${JSON.stringify(id)}`);
    const contract = contractFor(info.name);
    const job = await this.queues.get(info.queue).add(contract.name, info.data, {
      ...jobOptions(contract),
      jobId: `trigger-${id}-${Date.now()}`,
    });
    return { id: String(job.id), queue: info.queue };
  }

  /**
   * Makes the schedules owned by `owner` exactly `declared`: upserts each, removes those this owner
   * declared before but no longer does. Schedules of other owners and run-time schedules are untouched.
   */
  async sync(owner: string, declared: readonly ScheduleSpec[]): Promise<{ upserted: string[]; removed: string[] }> {
    const ids = new Set<string>();
    for (const spec of declared) {
      if (ids.has(spec.id)) throw new ValidationError(`Schedule id ${spec.id} is declared twice`);
      ids.add(spec.id);
      validateScheduleId(spec.id);
      validateRepeat(spec.repeat);
      parsePayload(contractFor(spec.name), spec.data);
    }
    const key = this.#declaredKey(owner);
    const before = await this.queues.redis.smembers(key);
    // Record ownership first: a crash after this point leaves nothing unowned to prune later.
    if (ids.size > 0) await this.queues.redis.sadd(key, ...ids);
    const upserted: string[] = [];
    for (const spec of declared) {
      try {
        await this.upsert(spec, owner);
      } catch (err) {
        // Replicas upserting the same schedule at once can race on the next tick's job id
        // (BullMQ issues #2988, #3085): the schedule exists either way, so log and go on.
        if (!/already exists/i.test((err as Error).message)) throw err;
      }
      upserted.push(spec.id);
    }
    const removed: string[] = [];
    for (const id of before.filter((x) => !ids.has(x))) {
      const meta = await this.meta(id);
      if (!meta || meta.owner === owner) {
        await this.remove(id);
        removed.push(id);
      }
      await this.queues.redis.srem(key, id);
    }
    return { upserted, removed };
  }
}

/** Re-creates declared schedules that have gone missing (a flushed Redis, a manual removal). */
export async function healMissing(schedules: Schedules, owner: string, declared: readonly ScheduleSpec[]): Promise<string[]> {
  const healed: string[] = [];
  for (const spec of declared) {
    if (!(await schedules.get(spec.id))) {
      await schedules.upsert(spec, owner);
      healed.push(spec.id);
    }
  }
  return healed;
}

/** BullMQ repeat options for a cron schedule: the DST policy and `H` seed ride along for the repeat strategy. */
function cronRepeat(id: string, cron: string, tz: string | undefined, dst: DstPolicy | undefined): CenterRepeatOptions {
  return { pattern: cron.trim(), tz, hashSeed: id, ...(dst ? { dst } : {}) };
}

/** The policy with only its non-default choices, or undefined when it is all defaults. */
function definedPolicy(dst: DstPolicy | undefined): DstPolicy | undefined {
  const out: { gap?: 'skip'; overlap?: 'both' } = {};
  if (dst?.gap === 'skip') out.gap = 'skip';
  if (dst?.overlap === 'both') out.overlap = 'both';
  return out.gap || out.overlap ? out : undefined;
}

function toInfo(
  s: { key: string; name: string; pattern?: string; every?: number; tz?: string; next?: number; template?: { data?: unknown } },
  queue: string,
  meta: ScheduleMeta | undefined,
): ScheduleInfo {
  return {
    id: s.key,
    name: s.name,
    queue,
    ...(s.pattern ? { cron: s.pattern } : {}),
    ...(s.every ? { every: Number(s.every) } : {}),
    ...(s.tz ? { tz: s.tz } : {}),
    ...(meta?.dst ? { dst: meta.dst } : {}),
    description: describeSchedule({ id: s.key, cron: s.pattern, every: s.every ? Number(s.every) : undefined, tz: s.tz }),
    next: s.next ? new Date(Number(s.next)).toISOString() : null,
    data: s.template?.data ?? {},
    overlap: meta?.overlap ?? 'allow',
    owner: meta?.owner ?? null,
  };
}

