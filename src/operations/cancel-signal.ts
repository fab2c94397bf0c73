import { z } from 'zod';
import type { Config } from '../config.js';
import { centerKey } from '../redis/connection.js';

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

/** The failure reason of a job cancelled while it ran. */
export const cancelledBy = (actor: string): string => `Cancelled by ${actor}`;
