import { z } from 'zod';
import type { Config } from '../config.js';
import { centerKey, queueKey, type RedisClient } from '../redis/connection.js';

/*
 * Cancelling an active job is a message to whichever worker process runs it: the client publishes
 * on one channel, every worker runtime subscribes and aborts the job if it is running it. Pub/sub
 * reaches every node of a Cluster, and a worker that is not running the job ignores the message.
 */

/** The channel cancel requests are published on. */
export function cancelChannel(config: Config): string {
  return centerKey(config, 'cancel');
}

export const cancelMessage = z.object({ queue: z.string(), id: z.string(), actor: z.string() });
export type CancelMessage = z.output<typeof cancelMessage>;

/**
 * A cancel of an active job is also kept in Redis, under this key (in the job's queue slot), in
 * case no worker hears the message: the job's worker had died, so BullMQ ran the job again after
 * its lock expired (the API had answered `cancelling`), and it ran to its end. A worker checks it
 * for jobs that run again (`attemptsStarted > 1`) only: first runs pay nothing. Whoever applies
 * the cancel deletes it; the API deletes it when the job left "active" while it waited.
 */
export function cancelMarkKey(config: Config, queue: string, id: string): string {
  return queueKey(config, queue, 'cancelled', id);
}

/** How long a cancel mark waits for a run of its job (workers may all be down a while). */
export const CANCEL_MARK_MS = 24 * 3600 * 1000;

/** The cancel mark of a job that runs again, applied (deleted) when there is one: its abort reason. */
export async function takeCancelMark(redis: RedisClient, config: Config, queue: string, id: string): Promise<string | undefined> {
  // GETDEL: one round trip, and two workers running the job again cannot both apply it.
  const actor = await redis.getdel(cancelMarkKey(config, queue, id));
  return actor === null ? undefined : cancelledBy(actor);
}

/** The failure reason of a job cancelled while it ran. */
export const cancelledBy = (actor: string): string => `Cancelled by ${actor}`;
