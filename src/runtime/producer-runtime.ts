import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { Queues } from '../queues.js';
import { checkEvictionPolicy } from '../redis/connection.js';
import { Schedules, healMissing, type ScheduleSpec } from '../schedules.js';

/**
 * Syncs the declared schedules into Redis (owned by `PRODUCER_ID`), then keeps checking that they
 * exist, re-creating any that vanished. Replicas of one producer are safe: BullMQ keeps one pending
 * job per schedule, so each tick fires once however many producers upserted it.
 */
export async function startProducerRuntime(options: {
  config: Config;
  logger: Logger;
  lifecycle: Lifecycle;
  schedules: readonly ScheduleSpec[];
}): Promise<{ resync(): Promise<void> }> {
  const { config, logger, lifecycle } = options;
  const queues = new Queues(config, logger, lifecycle);
  const store = new Schedules(queues);
  await queues.ready();
  await checkEvictionPolicy(queues.redis, logger);
  const result = await store.sync(config.producerId, options.schedules);
  logger.info({ owner: config.producerId, ...result }, 'Schedules synced');

  let running = false;
  const resync = async () => {
    if (running) return;
    running = true;
    try {
      const healed = await healMissing(store, config.producerId, options.schedules);
      if (healed.length > 0) logger.warn({ healed }, 'Re-created missing schedules');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'Schedule check failed; will retry');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void resync(), config.producerResyncMs);
  lifecycle.add('resync timer', timer, () => clearInterval(timer));
  return { resync };
}
