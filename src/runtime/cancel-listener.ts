import { UnrecoverableError } from 'bullmq';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { cancelChannel, cancelledBy, cancelMessage } from '../operations/cancel-signal.js';
import { createRedis } from '../redis/connection.js';
import type { ActiveJob } from './processor.js';

/**
 * Subscribes to cancel requests (`client.cancelJob` of an active job) and aborts the named job
 * if this process is running it: its `ctx.signal` fires and it fails with "Cancelled by <actor>"
 * as an UnrecoverableError, so it is not retried. One subscriber connection per worker process.
 */
export async function listenForCancels(config: Config, logger: Logger, active: ReadonlyMap<string, ActiveJob>): Promise<{ close(): Promise<void> }> {
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
    const running = active.get(id);
    if (!running || running.job.queueName !== queue) return;
    logger.info({ queue, job: id, actor }, 'Cancelling active job on request');
    running.abort.abort(new UnrecoverableError(cancelledBy(actor)));
  });
  await sub.subscribe(cancelChannel(config));
  return {
    close: async () => {
      await sub.quit().catch(() => sub.disconnect());
    },
  };
}
