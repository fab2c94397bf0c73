import { startAlerting } from '../alerts/index.js';
import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { Queues } from '../queues.js';
import { checkEvictionPolicy } from '../redis/connection.js';
import { Schedules, healMissing, type ScheduleSpec } from '../schedules.js';
import { RuntimeEvents, type ProducerRuntimeEvents } from './runtime-events.js';

/** A running producer. */
export interface ProducerRuntime {
  /** Re-creates declared schedules that went missing (also run every `PRODUCER_RESYNC_MS`). */
  resync(): Promise<void>;
  /** `ready`, `schedules.healed`: see ProducerRuntimeEvents. */
  readonly events: RuntimeEvents<ProducerRuntimeEvents>;
}

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
  /** Where to report events; pass one to hear `ready` too (it fires before this function returns). */
  events?: RuntimeEvents<ProducerRuntimeEvents>;
}): Promise<ProducerRuntime> {
  const { config, logger, lifecycle } = options;
  const events = options.events ?? new RuntimeEvents<ProducerRuntimeEvents>(logger);
  const queues = new Queues(config, logger, lifecycle);
  const store = new Schedules(queues);
  await queues.ready();
  await checkEvictionPolicy(queues.redis, logger);
  const { takenOver, ...result } = await store.sync(config.producerId, options.schedules);
  for (const t of takenOver) {
    logger.warn(
      { schedule: t.id, owner: config.producerId, previousOwner: t.from },
      `Schedule ${t.id} was declared by producer ${t.from}; this producer's declaration replaced it. Declare each schedule id in one service (PRODUCER_ID) only, or the two replace each other at every start`,
    );
  }
  logger.info({ owner: config.producerId, ...result }, 'Schedules synced');
  events.report('ready', { owner: config.producerId });

  let running = false;
  const resync = async () => {
    if (running) return;
    running = true;
    try {
      const { healed, failed } = await healMissing(store, config.producerId, options.schedules);
      if (healed.length > 0) {
        logger.warn({ healed }, 'Re-created missing schedules');
        events.report('schedules.healed', healed);
      }
      for (const f of failed) logger.warn({ schedule: f.id, err: f.error }, 'Could not re-create a missing schedule; will retry');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'Schedule check failed; will retry');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void resync(), config.producerResyncMs);
  lifecycle.add('resync timer', timer, () => clearInterval(timer));
  startAlerting({ config, logger, lifecycle, queues });
  return { resync, events };
}
