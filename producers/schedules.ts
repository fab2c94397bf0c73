import { Cron } from '../src/cron.js';
import { helloWorld, schedulerTest } from '../contracts/index.js';
import type { ScheduleSpec } from '../src/schedules.js';

/**
 * The recurring jobs this producer declares. At start the producer makes Redis match this list:
 * it upserts each entry and removes entries it declared before but no longer does. Schedules
 * created at run time (API, CLI, client) are never touched by that sync.
 */
export const schedules: readonly ScheduleSpec[] = [
  { id: 'heartbeat', repeat: { cron: Cron.everySeconds(1) }, name: helloWorld.name, data: {} },
  { id: 'scheduler-test', repeat: { cron: Cron.everyMinutes(1) }, name: schedulerTest.name, data: {} },
];
