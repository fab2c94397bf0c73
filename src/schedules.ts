import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { JobsOptions, Queue } from 'bullmq';
import type { DstPolicy } from './cron.js';
import { describeSchedule } from './cron/describe.js';
import { repeatStrategy, type CenterRepeatOptions } from './cron/repeat-strategy.js';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError, isRedisUnavailable } from './errors.js';
import { jobOptions } from './jobs/options.js';
import { checkPayload, type ContractMap, type JobContract, type JobNameOf, type PayloadOf, type ThenJobOf } from './jobs/contract.js';
import type { JobCatalog } from './jobs/catalog.js';
import type { Queues } from './queues.js';
import { centerKey } from './redis/connection.js';
import { graceOf, healthOf } from './schedules/health.js';
import { RunHistory, type RunRecord } from './schedules/history.js';
import { scheduleId as scheduleIdSchema } from './schemas/fields.js';
import { parseRequest } from './schemas/parse.js';
import { grace as graceSchema } from './schemas/schedule-health.js';
import { misfire as misfireSchema, semantics as semanticsSchema, type MisfirePolicy, type ThenSpec } from './schemas/schedule-semantics.js';
import { overlap as overlapSchema, repeat as repeatSchema, type ScheduleInfo } from './schemas/recurring.js';

/** When a schedule is `skip`, a tick that finds the previous run of the same schedule still active is skipped. */
export type OverlapPolicy = 'allow' | 'skip';

/**
 * How often a schedule fires: a cron pattern (optionally in a time zone, with a DST policy) or a
 * fixed interval in ms. `H` in a pattern takes a value hashed from the schedule id.
 */
export type Repeat = ({ readonly cron: string; readonly tz?: string; readonly dst?: DstPolicy } | { readonly every: number }) & RepeatWindow;

/** Job states of a tick (any job) that has not started yet. */
export const PENDING_STATES: ReadonlySet<string> = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

/** When a schedule runs, as the board's scheduler edit changes it (see Schedules.reschedule). */
export interface ScheduleTiming {
  readonly cron?: string;
  readonly every?: number;
  readonly tz?: string;
  readonly limit?: number;
  readonly endDate?: string;
}

/** BullMQ's window and run limit of a schedule. */
export interface RepeatWindow {
  /** No tick before this time (ISO 8601 with offset). */
  readonly startDate?: string;
  /** No tick after this time; then the schedule is ended (never overdue). */
  readonly endDate?: string;
  /** At most this many ticks in all; then the schedule is ended. */
  readonly limit?: number;
}

/** A recurring job as the center stores it. */
export interface ScheduleSpec<N extends string = string> {
  readonly id: string;
  readonly repeat: Repeat;
  readonly name: N;
  readonly data: unknown;
  /** @defaultValue 'allow' */
  readonly overlap?: OverlapPolicy;
  /**
   * How long after a tick a run may start before the schedule is `overdue` (ms).
   * @defaultValue max(60 s, 10 % of the period)
   */
  readonly grace?: number;
  /**
   * Ticks missed while no worker ran: `once` runs the pending tick late, once; `skip` runs no tick
   * late (missed ticks are recorded as `missed`); `all` runs each missed tick in order.
   * @defaultValue 'once'
   */
  readonly misfire?: MisfirePolicy;
  /** With `misfire: 'all'`: at most this many late runs after an outage. @defaultValue 100 */
  readonly maxCatchUp?: number;
  /** A job to run after each run of this schedule, with the run as its parent. */
  readonly then?: ThenSpec;
}

/**
 * A {@link ScheduleSpec} typed by catalog `C`, for declared schedules (`producers/schedules.ts`):
 * `data` is checked against its job's payload, and `then`'s against the payload of its own job.
 * It is a ScheduleSpec, so a list of them goes wherever ScheduleSpec[] does.
 */
export type ScheduleSpecOf<C extends ContractMap> = {
  [N in JobNameOf<C>]: Omit<ScheduleSpec<N>, 'data' | 'then'> & {
    readonly data: PayloadOf<C, N>;
    readonly then?: ThenJobOf<C> & { readonly on?: ThenSpec['on'] };
  };
}[JobNameOf<C>];

export type { ScheduleInfo };

/** What the center stores to re-create a schedule's BullMQ scheduler (resume, self-repair). */
const storedSpecSchema = z.object({ repeat: z.record(z.string(), z.unknown()), name: z.string(), data: z.unknown() });

interface ScheduleMeta {
  queue: string;
  overlap: OverlapPolicy;
  /** The producer that declared it; `null` for schedules made at run time (never pruned by a sync). */
  owner: string | null;
  /** Shard of a sharded queue the schedule lives on; kept when K changes so it never moves (0 if absent). */
  shard?: number;
  /** The declared grace (ms), when one was given. */
  grace?: number;
  paused?: boolean;
  /** Ticks taken before a pause (BullMQ's run count goes with the scheduler a pause removes). */
  count?: number;
  /** The definition, kept so the schedule can be resumed or repaired without its declaration. */
  spec?: z.output<typeof storedSpecSchema>;
  misfire?: MisfirePolicy;
  maxCatchUp?: number;
  then?: ThenSpec;
  opts?: Record<string, unknown>;
}

export function validateScheduleId(id: string): void {
  parseRequest(scheduleIdSchema, id, 'schedule id', 'id');
}

/** Checks a repeat with the one rule shared by client, HTTP and CLI (`schemas/recurring.ts`). */
export function validateRepeat(repeat: Repeat): void {
  parseRequest(repeatSchema, repeat, 'schedule');
}

/**
 * Refuses a window with no tick left: an endDate that has passed, or no cron tick between now (or
 * startDate) and endDate. BullMQ would throw a plain error for the first and silently add nothing
 * for the second. (An `every` schedule's first tick is BullMQ's to compute: upsert checks after.)
 */
export function checkWindow(id: string, repeat: Repeat): void {
  const r = repeat as { cron?: string; tz?: string; dst?: DstPolicy } & RepeatWindow;
  if (r.endDate === undefined) return;
  if (windowEnded(repeat)) {
    throw new ValidationError(`Schedule ${id} ended at ${r.endDate}: it would never run`, [
      { field: 'endDate', message: `endDate ${r.endDate} has passed; move it into the future, or remove the schedule` },
    ]);
  }
  if (r.cron !== undefined && repeatStrategy(Date.now(), { ...cronRepeat(id, r.cron, r.tz, r.dst), startDate: r.startDate, endDate: r.endDate }) === undefined) {
    throw new ValidationError(`Schedule ${id} would never run: no tick of "${r.cron}" falls before its endDate`, [
      { field: 'endDate', message: `no tick of "${r.cron}" falls between now (or startDate) and endDate ${r.endDate}; move endDate later` },
    ]);
  }
}

/** True when a schedule's window has ended (its endDate passed): a declaration of it adds nothing. */
export function windowEnded(repeat: Repeat, now = Date.now()): boolean {
  return repeat.endDate !== undefined && Date.parse(repeat.endDate) <= now;
}

export function validateGrace(value: unknown): void {
  if (value !== undefined) parseRequest(graceSchema, value, 'grace', 'grace');
}

const metaSchema = z.object({
  queue: z.string(),
  overlap: z.enum(['allow', 'skip']),
  owner: z.string().nullable(),
  shard: z.number().int().min(0).optional(),
  grace: z.number().int().optional(),
  paused: z.boolean().optional(),
  count: z.number().int().min(0).optional(),
  spec: storedSpecSchema.optional(),
  misfire: misfireSchema.optional(),
  maxCatchUp: z.number().int().optional(),
  then: z.object({ name: z.string(), data: z.unknown(), on: z.enum(['success', 'finished']) }).optional(),
  /** The job options its ticks are made with (from the contract), so a contract change is an update. */
  opts: z.record(z.string(), z.unknown()).optional(),
});

/** A stored definition, or undefined when it is none the center can read (invalid, or not even JSON). */
function parseMeta(raw: string | undefined | null): ScheduleMeta | undefined {
  if (!raw) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = metaSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** The BullMQ scheduler fields the center reads. */
interface SchedulerData {
  key: string;
  name: string;
  pattern?: string;
  every?: number;
  tz?: string;
  next?: number | null;
  limit?: number;
  endDate?: number;
  iterationCount?: number;
  template?: { data?: unknown };
}

/**
 * Recurring jobs on top of BullMQ Job Schedulers. BullMQ keeps the schedule and its one pending
 * job; the center adds a small metadata hash (queue, overlap policy, owning producer) so a schedule
 * can be found by id alone and a producer sync only prunes what that producer declared.
 */
export class Schedules {
  readonly history: RunHistory;

  constructor(private readonly queues: Queues) {
    this.history = new RunHistory(queues.redis, queues.config);
  }

  get #metaKey(): string {
    return centerKey(this.queues.config, 'schedules');
  }

  #declaredKey(owner: string): string {
    return centerKey(this.queues.config, 'declared', owner);
  }

  #contractFor(name: unknown): JobContract {
    return this.queues.catalog.contractFor(name);
  }

  /** The BullMQ queue (shard) a schedule lives on. */
  #queueOf(meta: ScheduleMeta): Queue {
    return this.queues.shard(meta.queue, meta.shard ?? 0);
  }

  /** A paused schedule's info, located at its shard's queue (see #withRuns). */
  #pausedInfo(id: string, meta: ScheduleMeta): Omit<ScheduleInfo, 'lastRun' | 'health'> {
    return { ...pausedInfo(id, meta), queue: this.#queueOf(meta).name };
  }

  /** A schedule as a call wrote it, for its answer when a concurrent call has removed it since. */
  async #asWritten(id: string, meta: ScheduleMeta): Promise<ScheduleInfo> {
    return (await this.#withRuns([{ ...this.#pausedInfo(id, meta), paused: Boolean(meta.paused) }]))[0]!;
  }

  /** The BullMQ queue holding a scheduler the center has no metadata for. */
  async #locate(id: string): Promise<Queue | undefined> {
    await this.queues.loadShards();
    for (const queue of this.queues.all()) if (await queue.getJobScheduler(id)) return queue;
    return undefined;
  }

  /** The BullMQ queue (the shard, on a sharded queue) holding schedule `id`'s scheduler and ticks. */
  async bullQueueOf(id: string): Promise<Queue | undefined> {
    const meta = await this.meta(id);
    return meta ? this.#queueOf(meta) : this.#locate(id);
  }

  /**
   * Schedules whose definition the center keeps (not paused, window not ended) but whose BullMQ
   * scheduler is gone (not in `listed`, the schedules list() found): removed behind the center's
   * back, so no tick will ever come. The detector re-creates them.
   */
  async orphans(listed: readonly ScheduleInfo[]): Promise<{ id: string; queue: string }[]> {
    // `listed` (this caller's list()) already read every scheduler: only the definitions are read
    // here. An upsert or removal in flight between the two reads may look orphaned; the caller
    // repairs only what stays so.
    const existing = new Set(listed.map((s) => s.id));
    const known = new Set(this.queues.catalog.queueNames);
    const out: { id: string; queue: string }[] = [];
    for (const [id, raw] of Object.entries(await this.queues.redis.hgetall(this.#metaKey))) {
      if (existing.has(id)) continue;
      const meta = parseMeta(raw);
      if (!meta?.spec || meta.paused || windowEnded(meta.spec.repeat as unknown as Repeat)) continue;
      // Another service's queue (a catalog sharing this prefix): its own processes repair it.
      if (known.has(meta.queue)) out.push({ id, queue: meta.queue });
    }
    return out;
  }

  async meta(id: string): Promise<ScheduleMeta | undefined> {
    return parseMeta(await this.queues.redis.hget(this.#metaKey, id));
  }

  async #writeMeta(id: string, meta: ScheduleMeta): Promise<void> {
    await this.queues.redis.hset(this.#metaKey, id, JSON.stringify(meta));
  }

  /**
   * Concurrent writers (upsert, pause, resume, remove of one id at once): each writes the
   * definition, then the scheduler, then settles here. When the definition is no longer the one
   * this call wrote (`wrote`, as stored; null for a removal), another call changed it in between and
   * its scheduler write may have come first: make the scheduler match what is stored now, and look
   * again until the definition holds still. The last scheduler write is then always followed by a
   * read of the definition it matches, so the two never stay apart (a scheduler without definition,
   * or a definition without scheduler that the detector would re-create after a removal).
   */
  async #settle(id: string, wrote: string | null, queue: Queue | undefined): Promise<void> {
    let expected = wrote;
    let last = queue;
    for (;;) {
      const now = (await this.queues.redis.hget(this.#metaKey, id)) ?? null;
      if (now === expected) return;
      const meta = parseMeta(now);
      if (meta?.spec && !meta.paused) {
        if (last && last.name !== this.#queueOf(meta).name) await this.#removeScheduler(last, id);
        await this.#upsertScheduler(id, meta.spec.name, meta.spec.repeat as unknown as Repeat, meta.spec.data, meta.shard ?? 0, meta.count);
      } else {
        for (const q of new Set([last, meta ? this.#queueOf(meta) : undefined])) if (q) await this.#removeScheduler(q, id);
      }
      expected = now;
      if (meta) last = this.#queueOf(meta);
    }
  }

  /**
   * Removes a BullMQ scheduler and its pending tick. BullMQ removes that tick only while it is
   * delayed: one already due (waiting for a busy or absent worker) would still run after a pause, a
   * removal or a move to another queue. A tick a worker has already taken is left to finish.
   */
  async #removeScheduler(queue: Queue, id: string): Promise<boolean> {
    const scheduler = (await queue.getJobScheduler(id)) as SchedulerData | undefined;
    const removed = await queue.removeJobScheduler(id);
    if (scheduler?.next) {
      const tick = `repeat:${id}:${scheduler.next}`;
      if (PENDING_STATES.has(await queue.getJobState(tick))) await queue.remove(tick);
    }
    return removed;
  }

  /** Creates or updates a schedule; validates everything before writing. */
  async upsert(spec: ScheduleSpec, owner: string | null = null): Promise<ScheduleInfo> {
    validateScheduleId(spec.id);
    validateRepeat(spec.repeat);
    const contract = this.#contractFor(spec.name);
    const data = checkPayload(contract, spec.data);
    const overlap = parseRequest(overlapSchema.optional().default('allow'), spec.overlap, 'overlap', 'overlap');
    validateGrace(spec.grace);
    const semantics = parseRequest(
      semanticsSchema,
      { misfire: spec.misfire, maxCatchUp: spec.maxCatchUp, then: spec.then },
      'schedule options',
    );
    // The continuation's payload is checked against its own contract now, not at the first run.
    const then = semantics.then ? thenOf(this.queues.catalog, semantics.then) : undefined;
    checkWindow(spec.id, spec.repeat);
    const previous = await this.meta(spec.id);
    if (previous && previous.queue !== contract.queue) {
      // The job moved queues: the old scheduler must not keep firing.
      await this.#removeScheduler(this.#queueOf(previous), spec.id);
    }
    // A schedule stays on the shard it was created on, whatever K becomes: moving it would let the
    // old shard's pending tick fire too. A new one goes to the shard of its id.
    const shard = previous?.queue === contract.queue ? (previous.shard ?? 0) : this.queues.shardFor(contract.queue, spec.id);
    const meta: ScheduleMeta = {
      queue: contract.queue,
      overlap,
      owner: owner ?? previous?.owner ?? null,
      ...(shard > 0 ? { shard } : {}),
      ...(spec.grace !== undefined ? { grace: spec.grace } : {}),
      // A paused schedule stays paused through updates and producer syncs: only resume() resumes it.
      ...(previous?.paused ? { paused: true } : {}),
      // The ticks taken before a pause go on counting against the same limit; a new window starts afresh.
      ...(previous?.count && isDeepStrictEqual(previous.spec?.repeat, JSON.parse(JSON.stringify(spec.repeat))) ? { count: previous.count } : {}),
      spec: { repeat: { ...spec.repeat }, name: contract.name, data },
      ...(semantics.misfire && semantics.misfire !== 'once' ? { misfire: semantics.misfire } : {}),
      ...(semantics.maxCatchUp !== undefined ? { maxCatchUp: semantics.maxCatchUp } : {}),
      ...(then ? { then } : {}),
      opts: { ...jobOptions(contract) },
    };
    // An unchanged definition whose scheduler exists is left alone. Upserting it again would replace
    // the pending tick, and a tick that is due but not yet picked up would be replaced by the one
    // after it: a producer restarting at that instant would make the schedule skip a tick.
    if (previous && !meta.paused && isDeepStrictEqual(previous, JSON.parse(JSON.stringify(meta)))) {
      const queue = this.#queueOf(meta);
      const existing = (await queue.getJobScheduler(spec.id)) as SchedulerData | undefined;
      if (existing) return (await this.#withRuns([toInfo(existing, queue.name, meta)]))[0]!;
    }
    const wrote = JSON.stringify(meta);
    await this.#writeMeta(spec.id, meta);
    if (meta.paused) {
      await this.#removeScheduler(this.#queueOf(meta), spec.id);
      await this.#settle(spec.id, wrote, this.#queueOf(meta));
      return (await this.get(spec.id)) ?? this.#asWritten(spec.id, meta);
    }
    // Whether BullMQ added a tick, as it answers (not read back: a concurrent removal may have
    // taken the scheduler since, which is no window without ticks).
    const added = await this.#upsertScheduler(spec.id, contract.name, spec.repeat, data, shard, meta.count);
    if (added) {
      await this.#settle(spec.id, wrote, this.#queueOf(meta));
      return (await this.get(spec.id)) ?? this.#asWritten(spec.id, meta);
    }
    // BullMQ added no tick (none falls inside the window): put back what stood before, so the
    // stored definition never differs from what runs.
    if (previous) await this.#writeMeta(spec.id, previous);
    else await this.queues.redis.hdel(this.#metaKey, spec.id);
    if (previous) await this.recreate(spec.id).catch(() => false);
    throw new ValidationError(`Schedule ${spec.id} would never run: no tick falls inside its window`, [
      { field: 'endDate', message: 'no tick falls between now (or startDate) and endDate; move endDate later' },
    ]);
  }

  /** Writes the BullMQ scheduler of a schedule whose definition is already validated. */
  async #upsertScheduler(id: string, name: string, repeat: Repeat, data: unknown, shard: number, count?: number): Promise<boolean> {
    const contract = this.#contractFor(name);
    const r = repeat as { cron?: string; every?: number; tz?: string; dst?: DstPolicy } & RepeatWindow;
    const opts: Omit<JobsOptions, 'jobId' | 'repeat' | 'delay' | 'deduplication'> = jobOptions(contract);
    const window = {
      ...(r.startDate !== undefined ? { startDate: r.startDate } : {}),
      ...(r.endDate !== undefined ? { endDate: r.endDate } : {}),
      // Ticks taken before a pause count against the limit: BullMQ's count starts again with the
      // new scheduler, so it gets what is left.
      ...(r.limit !== undefined ? { limit: r.limit - (count ?? 0) } : {}),
    };
    const tick = await this.queues.shard(contract.queue, shard).upsertJobScheduler(
      id,
      r.cron !== undefined ? { ...cronRepeat(id, r.cron, r.tz, definedPolicy(r.dst)), ...window } : { every: r.every, ...window },
      { name: contract.name, data, opts },
    );
    return tick !== undefined;
  }

  /**
   * Changes when a schedule runs (its pattern or interval, time zone, limit and end) and keeps the
   * rest: job, payload, overlap, grace, misfire, `then`, start date, owner. What the board's
   * scheduler edit does, through the center, so the definition it keeps (for pause and resume, and
   * self-repair) follows the edit. @throws NotFoundError for an unknown schedule.
   */
  async reschedule(id: string, timing: ScheduleTiming): Promise<ScheduleInfo> {
    validateScheduleId(id);
    const info = await this.get(id);
    if (!info) throw new NotFoundError(`No schedule with id ${JSON.stringify(id)}`);
    const meta = await this.meta(id);
    const stored = (meta?.spec?.repeat ?? {}) as { dst?: DstPolicy } & RepeatWindow;
    const when =
      timing.cron !== undefined
        ? { cron: timing.cron, ...(timing.tz ? { tz: timing.tz } : {}), ...(stored.dst ? { dst: stored.dst } : {}) }
        : { every: timing.every as number };
    const window = {
      ...(stored.startDate !== undefined ? { startDate: stored.startDate } : {}),
      ...(timing.limit !== undefined ? { limit: timing.limit } : {}),
      ...(timing.endDate !== undefined ? { endDate: timing.endDate } : {}),
    };
    return this.upsert({
      id,
      repeat: { ...when, ...window },
      name: info.name,
      data: info.data,
      overlap: info.overlap,
      ...(meta?.grace !== undefined ? { grace: meta.grace } : {}),
      ...(meta?.misfire !== undefined ? { misfire: meta.misfire } : {}),
      ...(meta?.maxCatchUp !== undefined ? { maxCatchUp: meta.maxCatchUp } : {}),
      ...(meta?.then !== undefined ? { then: meta.then } : {}),
    });
  }

  /**
   * Re-creates the BullMQ scheduler of a schedule from its stored definition (resume, self-repair).
   * @returns false when the center has no stored definition for it.
   */
  async recreate(id: string): Promise<boolean> {
    const meta = await this.meta(id);
    if (!meta?.spec || meta.paused) return false;
    await this.#upsertScheduler(id, meta.spec.name, meta.spec.repeat as unknown as Repeat, meta.spec.data, meta.shard ?? 0, meta.count);
    return true;
  }

  /**
   * Pauses a schedule: its BullMQ scheduler (and pending tick) is removed, its definition kept.
   * @throws NotFoundError when there is no such schedule.
   */
  async pause(id: string): Promise<ScheduleInfo> {
    validateScheduleId(id);
    const info = await this.get(id);
    if (!info) throw new NotFoundError(`No schedule with id ${JSON.stringify(id)}`);
    if (info.paused) return info;
    const meta = (await this.meta(id)) ?? { queue: info.queue, overlap: info.overlap, owner: info.owner };
    const repeat = info.cron !== undefined ? { cron: info.cron, ...(info.tz ? { tz: info.tz } : {}) } : { every: info.every };
    const spec = meta.spec ?? { repeat, name: info.name, data: info.data };
    // BullMQ's run count goes with its scheduler: keep it, so that `limit` still counts the ticks
    // taken before the pause when the schedule resumes.
    // Its count includes the pending tick, which the pause removes unrun.
    const queue = this.#queueOf(meta);
    const scheduler = (await queue.getJobScheduler(id)) as SchedulerData | undefined;
    const pending = scheduler?.next ? PENDING_STATES.has(await queue.getJobState(`repeat:${id}:${scheduler.next}`)) : false;
    const count = (meta.count ?? 0) + Math.max(0, Number(scheduler?.iterationCount ?? 0) - (pending ? 1 : 0));
    // Definition first: a crash between the two writes leaves a paused schedule that still fires
    // once more, never a schedule that is gone.
    const paused: ScheduleMeta = { ...meta, paused: true, spec, ...(count > 0 ? { count } : {}) };
    await this.#writeMeta(id, paused);
    await this.#removeScheduler(queue, id);
    await this.#settle(id, JSON.stringify(paused), queue);
    return (await this.get(id)) ?? this.#asWritten(id, paused);
  }

  /**
   * Resumes a paused schedule from its stored definition; the next tick is computed from now.
   * @throws NotFoundError when there is no such schedule.
   */
  async resume(id: string): Promise<ScheduleInfo> {
    validateScheduleId(id);
    const meta = await this.meta(id);
    if (!meta?.paused) {
      const info = await this.get(id);
      if (!info) throw new NotFoundError(`No schedule with id ${JSON.stringify(id)}`);
      return info;
    }
    const repeat = (meta.spec?.repeat ?? {}) as RepeatWindow;
    if (repeat.limit !== undefined && (meta.count ?? 0) >= repeat.limit) {
      throw new ConflictError(`Schedule ${id} has run its limit of ${repeat.limit} ticks; upsert it with a higher limit to run it again`);
    }
    if (windowEnded(repeat as Repeat)) {
      throw new ConflictError(`Schedule ${id} ended at ${repeat.endDate}; upsert it with a later endDate to run it again`);
    }
    const { paused: _paused, ...rest } = meta;
    await this.#writeMeta(id, rest);
    await this.recreate(id);
    await this.#settle(id, JSON.stringify(rest), this.#queueOf(rest));
    const info = await this.get(id);
    if (!info) {
      // BullMQ added no tick (the window's last one has passed): put the paused definition back,
      // unless another call changed it meanwhile. Left unpaused without a scheduler, the schedule
      // vanished from GET and the list, and DELETE answered 404, with its definition kept forever.
      if ((await this.queues.redis.hget(this.#metaKey, id)) === JSON.stringify(rest)) {
        await this.#writeMeta(id, meta);
        await this.#settle(id, JSON.stringify(meta), this.#queueOf(meta));
      }
      throw new ConflictError(`Schedule ${id} has no tick left in its window; upsert it with a later endDate to run it again`);
    }
    return info;
  }

  async get(id: string): Promise<ScheduleInfo | undefined> {
    const meta = await this.meta(id);
    if (meta?.paused && meta.spec) return this.#withRuns([this.#pausedInfo(id, meta)]).then((l) => l[0]);
    if (!meta) await this.queues.loadShards();
    const queues = meta ? [this.#queueOf(meta)] : this.queues.all();
    for (const queue of queues) {
      const s = (await queue.getJobScheduler(id)) as SchedulerData | undefined;
      if (s) return this.#withRuns([toInfo(s, queue.name, meta)]).then((l) => l[0]);
    }
    return undefined;
  }

  /** The run history of a schedule, newest first. @throws NotFoundError for an unknown schedule. */
  async runs(id: string, limit?: number): Promise<RunRecord[]> {
    validateScheduleId(id);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      throw new ValidationError(`limit must be a whole number from 1 to ${this.history.limit}, got ${String(limit)}`, [
        { field: 'limit', message: `limit must be an integer from 1 to ${this.history.limit}` },
      ]);
    }
    const meta = await this.meta(id);
    if (!meta && !(await this.get(id))) throw new NotFoundError(`No schedule with id ${JSON.stringify(id)}`);
    // History lives in the slot of the schedule's BullMQ queue (its shard), where the worker records it.
    const queue = meta ? this.#queueOf(meta).name : (await this.#locate(id))?.name;
    if (!queue) throw new NotFoundError(`No schedule with id ${JSON.stringify(id)}`);
    return this.history.runs(queue, id, limit);
  }

  /**
   * Adds the last run and the health (as of `now`) to each schedule: one round trip for all the
   * last runs, and the states of ended schedules' last ticks read side by side.
   */
  async #withRuns(infos: Omit<ScheduleInfo, 'lastRun' | 'health'>[], now = Date.now()): Promise<ScheduleInfo[]> {
    // Here `queue` is the BullMQ queue (a shard's name on a sharded queue), where the history lives;
    // what callers see is the logical queue.
    const last = await this.history.lastOfMany(infos.map((i) => ({ queue: i.queue, id: i.id })));
    // A window's last tick that has not started yet (no worker, a backlog) has not ended its
    // schedule: it still runs, and may be overdue.
    const ending = (infos as BaseInfo[]).filter((info) => info.lastTick !== undefined);
    const states = await Promise.all(ending.map((info) => this.queues.get(info.queue).getJobState(`repeat:${info.id}:${info.lastTick}`)));
    const waiting = new Set<BaseInfo>(ending.filter((_, k) => PENDING_STATES.has(states[k]!)));
    return infos.map((info, k) => {
      const { ended: pastWindow, lastTick: _lastTick, ...rest } = info as BaseInfo;
      const ended = pastWindow && !waiting.has(info as BaseInfo);
      const lastRun = last[k] ?? null;
      const health = healthOf(
        { paused: info.paused, ended: ended ?? false, next: info.next ? Date.parse(info.next) : null, graceMs: info.grace, lastRun },
        now,
      );
      // BullMQ keeps an ended scheduler's last tick (already run) or, for an interval, a tick past
      // endDate (never run) as its `next`: an ended schedule has no next run (null, as documented).
      return { ...rest, ...(ended ? { next: null } : {}), queue: this.queues.logicalOf(rest.queue).queue, lastRun, health };
    });
  }

  /**
   * Every schedule of every queue, soonest first.
   * @param now the time health is judged at (the detector passes the Redis server's, which every process shares)
   */
  async list(now = Date.now()): Promise<ScheduleInfo[]> {
    const metas = await this.queues.redis.hgetall(this.#metaKey);
    const found: Omit<ScheduleInfo, 'lastRun' | 'health'>[] = [];
    const seen = new Set<string>();
    await this.queues.loadShards();
    for (const queue of this.queues.all()) {
      for (const s of (await queue.getJobSchedulers(0, -1, true)) as SchedulerData[]) {
        seen.add(s.key);
        found.push(toInfo(s, queue.name, parseMeta(metas[s.key]), now));
      }
    }
    for (const [id, raw] of Object.entries(metas)) {
      const meta = parseMeta(raw);
      if (meta?.paused && meta.spec && !seen.has(id)) found.push(this.#pausedInfo(id, meta));
    }
    const out = await this.#withRuns(found, now);
    // ISO strings sort by time; schedules without a next run (ended) go last.
    const at = (s: ScheduleInfo) => (s.next ? Date.parse(s.next) : Infinity);
    return out.sort((a, b) => at(a) - at(b) || a.id.localeCompare(b.id));
  }

  /** @returns false when no such schedule exists. */
  async remove(id: string): Promise<boolean> {
    validateScheduleId(id);
    const meta = await this.meta(id);
    let removed = false;
    if (!meta) await this.queues.loadShards();
    // Definition first, then the scheduler, then settle (see #settle): an upsert racing this
    // removal must not leave its scheduler firing without a definition.
    await this.queues.redis.hdel(this.#metaKey, id);
    for (const queue of meta ? [this.#queueOf(meta)] : this.queues.all()) {
      removed = (await this.#removeScheduler(queue, id)) || removed;
    }
    await this.#settle(id, null, meta ? this.#queueOf(meta) : undefined);
    if (meta) await this.history.clear(this.#queueOf(meta).name, id);
    return removed || Boolean(meta?.paused);
  }

  /** Runs the schedule's job once now; the schedule itself is unchanged. */
  async trigger(id: string): Promise<{ id: string; queue: string }> {
    validateScheduleId(id);
    const info = await this.get(id);
    if (!info) throw new NotFoundError(`No schedule with id ${JSON.stringify(id)}`);
    const contract = this.#contractFor(info.name);
    // Each trigger is a run of its own: the random part keeps two triggers within one millisecond
    // from sharing an id (BullMQ would drop the second as a duplicate).
    const route = this.queues.route(info.queue, { jobId: `trigger-${id}-${Date.now()}-${randomBytes(4).toString('hex')}` });
    const job = await route.queue.add(contract.name, info.data, { ...jobOptions(contract), jobId: route.jobId });
    return { id: String(job.id), queue: info.queue };
  }

  /**
   * Records `ids` as declared by `owner`, so that a later sync of that owner prunes those it no
   * longer declares. healMissing records them again: a flushed Redis loses this set with the rest.
   */
  async recordDeclared(owner: string, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.queues.redis.sadd(this.#declaredKey(owner), ...ids);
  }

  /**
   * Makes the schedules owned by `owner` exactly `declared`: upserts each, removes those this owner
   * declared before but no longer does. Schedules of other owners and run-time schedules are untouched.
   */
  async sync(
    owner: string,
    declared: readonly ScheduleSpec[],
  ): Promise<{ upserted: string[]; removed: string[]; ended: string[]; takenOver: { id: string; from: string }[] }> {
    const ids = new Set<string>();
    for (const spec of declared) {
      if (ids.has(spec.id)) throw new ValidationError(`Schedule id ${spec.id} is declared twice`);
      ids.add(spec.id);
      validateScheduleId(spec.id);
      validateRepeat(spec.repeat);
      checkPayload(this.#contractFor(spec.name), spec.data);
    }
    const key = this.#declaredKey(owner);
    const before = await this.queues.redis.smembers(key);
    // Record ownership first: a crash after this point leaves nothing unowned to prune later.
    await this.recordDeclared(owner, [...ids]);
    const upserted: string[] = [];
    const ended: string[] = [];
    // Another service's producer declared the same id: the last sync wins, and the two take it in
    // turns at every restart. Said, so that somebody renames one of them.
    const takenOver: { id: string; from: string }[] = [];
    for (const spec of declared) {
      const previous = (await this.meta(spec.id))?.owner;
      if (previous && previous !== owner) takenOver.push({ id: spec.id, from: previous });
      try {
        await this.upsert(spec, owner);
      } catch (err) {
        // A declared window that has run out (its endDate passed, or no tick is left before it)
        // is an ended schedule, not a reason to stop the producer.
        if (isWindowRefusal(err)) {
          ended.push(spec.id);
          continue;
        }
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
    return { upserted, removed, ended, takenOver };
  }
}

/** The refusal of checkWindow (or of a window BullMQ added no tick for). */
function isWindowRefusal(err: unknown): boolean {
  return err instanceof ValidationError && err.details.some((d) => d.field === 'endDate');
}

/**
 * Re-creates declared schedules that have gone missing (a flushed Redis, a manual removal). Each is
 * tried on its own: one that cannot be re-created (reported in `failed`) does not keep the others
 * from being healed. Declarations whose window has ended are left alone.
 */
export async function healMissing(
  schedules: Schedules,
  owner: string,
  declared: readonly ScheduleSpec[],
): Promise<{ healed: string[]; failed: { id: string; error: string }[] }> {
  const healed: string[] = [];
  const failed: { id: string; error: string }[] = [];
  // The record of what this owner declares goes with a flushed Redis too: without it, a schedule
  // re-created here would never be pruned once the producer stops declaring it.
  await schedules.recordDeclared(owner, declared.map((s) => s.id));
  for (const spec of declared) {
    try {
      if (windowEnded(spec.repeat) || (await schedules.get(spec.id))) continue;
      await schedules.upsert(spec, owner);
      healed.push(spec.id);
    } catch (err) {
      // Redis away: nothing is known to be missing; the caller retries the whole check.
      if (isRedisUnavailable(err)) throw err;
      if (!isWindowRefusal(err)) failed.push({ id: spec.id, error: (err as Error).message });
    }
  }
  return { healed, failed };
}

/** A schedule's `then`, its name and payload checked against its contract; problems are named `then.…`. */
function thenOf(catalog: JobCatalog, t: ThenSpec): { name: string; data: unknown; on: NonNullable<ThenSpec['on']> } {
  try {
    const contract = catalog.contractFor(t.name);
    return { name: contract.name, data: checkPayload(contract, t.data ?? {}), on: t.on ?? 'success' };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(`then: ${err.message}`, err.details.map((d) => ({ field: `then.${d.field}`, message: `then.${d.message}` })));
  }
}

type BaseInfo = Omit<ScheduleInfo, 'lastRun' | 'health'> & {
  ended?: boolean;
  /** With `ended`: the window's last tick, which ends it only once it has started. */
  lastTick?: number;
};

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

/** The DST policy a schedule was defined with (the timetable's defaults when none). */
function storedDst(meta: ScheduleMeta | undefined): DstPolicy | undefined {
  return definedPolicy((meta?.spec?.repeat as { dst?: DstPolicy } | undefined)?.dst);
}

/** The DST policy, window, misfire and `then` options, and the pattern in words, for a listing. */
function semanticsOf(id: string, r: { cron?: string; every?: number; tz?: string }, meta: ScheduleMeta | undefined) {
  const stored = (meta?.spec?.repeat ?? {}) as { dst?: DstPolicy } & RepeatWindow;
  const dst = r.cron !== undefined ? definedPolicy(stored.dst) : undefined;
  return {
    ...(dst ? { dst } : {}),
    ...(stored.startDate !== undefined ? { startDate: stored.startDate } : {}),
    ...(stored.endDate !== undefined ? { endDate: stored.endDate } : {}),
    ...(stored.limit !== undefined ? { limit: stored.limit } : {}),
    misfire: meta?.misfire ?? 'once',
    ...(meta?.maxCatchUp !== undefined ? { maxCatchUp: meta.maxCatchUp } : {}),
    ...(meta?.then ? { then: meta.then } : {}),
    description: describeSchedule({ id, ...r }),
  };
}

function toInfo(s: SchedulerData, queue: string, meta: ScheduleMeta | undefined, now = Date.now()): BaseInfo {
  const cron = s.pattern;
  const every = s.every ? Number(s.every) : undefined;
  const next = s.next ? Number(s.next) : null;
  // BullMQ keeps an ended scheduler with its last tick as `next`: it must not count as overdue.
  const ended =
    (s.endDate !== undefined && now > Number(s.endDate)) ||
    (s.limit !== undefined && (s.iterationCount ?? 0) >= Number(s.limit) && (next === null || next <= now));
  // Its pending tick inside the window is the last one; past endDate (an interval's), it never runs.
  const lastTick = ended && next !== null && (s.endDate === undefined || next <= Number(s.endDate)) ? next : undefined;
  return {
    id: s.key,
    name: s.name,
    queue,
    ...(cron ? { cron } : {}),
    ...(every ? { every } : {}),
    ...(s.tz ? { tz: s.tz } : {}),
    ...semanticsOf(s.key, { cron, every, tz: s.tz }, meta),
    next: next ? new Date(next).toISOString() : null,
    data: s.template?.data ?? {},
    overlap: meta?.overlap ?? 'allow',
    owner: meta?.owner ?? null,
    grace: graceOf({ cron, every, tz: s.tz, dst: storedDst(meta), hashSeed: s.key, grace: meta?.grace }),
    paused: false,
    ...(ended ? { ended } : {}),
    ...(lastTick !== undefined ? { lastTick } : {}),
  };
}

/** A paused schedule, from the definition the center kept. */
function pausedInfo(id: string, meta: ScheduleMeta): BaseInfo {
  const r = meta.spec!.repeat as { cron?: string; every?: number; tz?: string };
  return {
    id,
    name: meta.spec!.name,
    queue: meta.queue,
    ...(r.cron !== undefined ? { cron: r.cron } : {}),
    ...(r.every !== undefined ? { every: r.every } : {}),
    ...(r.tz ? { tz: r.tz } : {}),
    ...semanticsOf(id, r, meta),
    next: null,
    data: meta.spec!.data ?? {},
    overlap: meta.overlap,
    owner: meta.owner,
    grace: graceOf({ ...r, dst: storedDst(meta), hashSeed: id, grace: meta.grace }),
    paused: true,
  };
}

