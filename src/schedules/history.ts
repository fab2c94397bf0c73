import type { Job } from 'bullmq';
import type { Config } from '../config.js';
import { queueKey, type RedisClient } from '../redis/connection.js';
import type { RunOutcome, RunRecord } from '../schemas/schedule-health.js';

export type { RunOutcome, RunRecord };

/** The key of one schedule's history, in its queue's hash slot (see queueKey). */
export function historyKey(config: Config, queue: string, scheduleId: string): string {
  return queueKey(config, queue, 'runs', scheduleId);
}

/** The tick a scheduler job was made for: BullMQ names it `repeat:<schedulerId>:<millis>`. */
export function tickOf(job: Pick<Job, 'id' | 'timestamp' | 'delay'>): number {
  const last = String(job.id ?? '').split(':').pop();
  const millis = Number(last);
  return Number.isFinite(millis) && millis > 0 ? millis : job.timestamp + (job.delay ?? 0);
}

const iso = (ms: number | undefined | null): string | null => (ms ? new Date(ms).toISOString() : null);

/** The run record of a finished scheduler job. */
export function runOf(job: Job, outcome: 'completed' | 'failed', error?: string): RunRecord {
  const tick = tickOf(job);
  const started = job.processedOn ?? null;
  const finished = job.finishedOn ?? Date.now();
  const skipped = outcome === 'completed' && (job.returnvalue as { skipped?: unknown } | null)?.skipped === true;
  // A tick dropped by a misfire policy completes as skipped with `missed: true`.
  const missed = skipped && (job.returnvalue as { missed?: unknown }).missed === true;
  return {
    tick: new Date(tick).toISOString(),
    startedAt: iso(started),
    finishedAt: iso(finished),
    durationMs: started ? Math.max(0, finished - started) : null,
    latenessMs: started ? started - tick : null,
    outcome: missed ? 'missed' : skipped ? 'skipped' : outcome,
    error: outcome === 'failed' ? (error ?? job.failedReason ?? null) : skipped ? String((job.returnvalue as { reason?: unknown }).reason ?? '') || null : null,
    // BullMQ counts the finishing attempt in attemptsMade, for completed and failed jobs alike.
    attempts: Math.max(1, job.attemptsMade),
  };
}

/**
 * The last runs of each schedule: one capped Redis list per schedule, newest first. Writing one
 * run is one round trip (LPUSH + LTRIM in a MULTI); jobs that do not come from a schedule never
 * get here.
 */
export class RunHistory {
  constructor(
    private readonly redis: RedisClient,
    private readonly config: Config,
  ) {}

  get limit(): number {
    return this.config.scheduleHistoryLimit;
  }

  async record(queue: string, scheduleId: string, run: RunRecord): Promise<void> {
    const key = historyKey(this.config, queue, scheduleId);
    await this.redis.multi().lpush(key, JSON.stringify(run)).ltrim(key, 0, this.limit - 1).exec();
  }

  /**
   * The last `limit` runs to end (capped by the history size), newest tick first. Runs are recorded
   * as they end, and two may overlap (a late tick and the next one it let through, with
   * WORKER_CONCURRENCY > 1): the shorter one ends, and was listed, first.
   */
  async runs(queue: string, scheduleId: string, limit = this.limit): Promise<RunRecord[]> {
    const n = Math.max(1, Math.min(limit, this.limit));
    const raw = await this.redis.lrange(historyKey(this.config, queue, scheduleId), 0, n - 1);
    return raw
      .map(parseRecord)
      .filter((r): r is RunRecord => r !== null)
      .sort((a, b) => Date.parse(b.tick) - Date.parse(a.tick));
  }

  async last(queue: string, scheduleId: string): Promise<RunRecord | null> {
    const raw = await this.redis.lindex(historyKey(this.config, queue, scheduleId), 0);
    return raw ? parseRecord(raw) : null;
  }

  /** The last run of several schedules, in one round trip per schedule batch. */
  async lastOfMany(items: readonly { queue: string; id: string }[]): Promise<(RunRecord | null)[]> {
    if (items.length === 0) return [];
    // A Cluster pipeline must stay in one slot: one request per schedule there.
    if (this.config.redis.clusterNodes) return Promise.all(items.map((i) => this.last(i.queue, i.id)));
    const pipe = this.redis.pipeline();
    for (const i of items) pipe.lindex(historyKey(this.config, i.queue, i.id), 0);
    const replies = (await pipe.exec()) ?? [];
    return replies.map(([err, raw]) => (err || !raw ? null : parseRecord(raw as string)));
  }

  async clear(queue: string, scheduleId: string): Promise<void> {
    await this.redis.del(historyKey(this.config, queue, scheduleId));
  }
}

/**
 * A stored run, or null for an entry that is not JSON (written by hand, or damaged): one such entry
 * failed every listing of schedules, and with it every detector pass, so no alert was raised at all.
 */
function parseRecord(raw: string): RunRecord | null {
  try {
    return JSON.parse(raw) as RunRecord;
  } catch {
    return null;
  }
}
