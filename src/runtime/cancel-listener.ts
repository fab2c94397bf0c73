import { UnrecoverableError } from 'bullmq';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { cancelChannel, cancelledBy, cancelMarkKey, cancelMessage, takeCancelMark } from '../operations/cancel-signal.js';
import { createRedis, type RedisClient } from '../redis/connection.js';
import { activeKey, type ActiveJob } from './processor.js';

/** How long a cancel for a job this process is not running (yet) is remembered. */
const EARLY_CANCEL_MS = 10_000;

/**
 * Cancels this worker has not applied yet, which the processor asks for when it registers a job:
 * - heard early (`take`): BullMQ marks a job active in Redis (which is when a cancel is sent) a
 *   moment before the worker hands it to the processor, and a cancel heard in between was lost:
 *   the job ran to its end (the API answered `cancelling`). A size test while none is pending;
 * - marked in Redis (`marked`): sent while no worker ran the job (see cancelMarkKey).
 */
export class PendingCancels {
  readonly #pending = new Map<string, { queue: string; actor: string; until: number }>();

  /** `redis`: commands (the marks of cancels no worker heard, see cancelMarkKey). */
  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
  ) {}

  /**
   * For a job that runs again (its worker died, or an attempt failed): the abort reason of a cancel
   * sent while nobody ran it, if any. First runs do not ask (one GET per re-run only).
   */
  async marked(queue: string, id: string): Promise<Error | undefined> {
    // Unreadable (Redis failing just now): the run goes on, rather than failing an attempt for it.
    const reason = await takeCancelMark(this.redis, this.config, queue, id).catch(() => undefined);
    return reason === undefined ? undefined : new UnrecoverableError(reason);
  }

  /** A cancel was applied here: its mark is spent. */
  applied(queue: string, id: string): void {
    void this.redis.del(cancelMarkKey(this.config, queue, id)).catch(() => {});
  }

  remember(queue: string, id: string, actor: string): void {
    const now = Date.now();
    for (const [key, p] of this.#pending) if (p.until < now) this.#pending.delete(key);
    // Per queue and id: one id may name jobs of two queues (see activeKey).
    this.#pending.set(activeKey(queue, id), { queue, actor, until: now + EARLY_CANCEL_MS });
  }

  /** The abort reason for a job cancelled before it started here, if one was heard. */
  take(queue: string, id: string): Error | undefined {
    if (this.#pending.size === 0) return undefined;
    const key = activeKey(queue, id);
    const p = this.#pending.get(key);
    if (!p) return undefined;
    this.#pending.delete(key);
    return p.until >= Date.now() ? new UnrecoverableError(cancelledBy(p.actor)) : undefined;
  }
}

/**
 * Subscribes to cancel requests (`client.cancelJob` of an active job) and aborts the named job
 * if this process is running it: its `ctx.signal` fires and it fails with "Cancelled by <actor>"
 * as an UnrecoverableError, so it is not retried. One subscriber connection per worker process.
 * A cancel for a job it is not running is kept a while in `pending` (see PendingCancels).
 */
export async function listenForCancels(
  config: Config,
  logger: Logger,
  active: ReadonlyMap<string, ActiveJob>,
  pending: PendingCancels,
): Promise<{ close(): Promise<void> }> {
  const sub = createRedis(config, 'worker', logger);
  sub.on('message', (_channel: string, text: string) => {
    let parsed;
    try {
      parsed = cancelMessage.safeParse(JSON.parse(text));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const { queue, id, actor } = parsed.data;
    const running = active.get(activeKey(queue, id));
    if (!running) {
      // Perhaps taken by this process and not registered yet (or run by another process).
      pending.remember(queue, id, actor);
      return;
    }
    logger.info({ queue, job: id, actor }, 'Cancelling active job on request');
    running.abort.abort(new UnrecoverableError(cancelledBy(actor)));
    pending.applied(queue, id);
  });
  await sub.subscribe(cancelChannel(config));
  return {
    close: async () => {
      await sub.quit().catch(() => sub.disconnect());
    },
  };
}
