import { Cron } from '../src/cron.js';
import { helloWorld, schedulerTest, type Jobs } from '../contracts/index.js';
import type { ScheduleSpecOf } from '../src/schedules.js';

/**
 * The recurring jobs this producer declares. At start the producer makes Redis match this list:
 * it upserts each entry and removes entries it declared before but no longer does. Schedules
 * created at run time (API, CLI, client) are never touched by that sync. Typed by the catalog: a
 * payload that does not match its job's contract does not compile.
 */
export const schedules: readonly ScheduleSpecOf<Jobs>[] = [
  { id: 'heartbeat', repeat: { cron: Cron.everySeconds(1) }, name: helloWorld.name, data: {} },
  { id: 'scheduler-test', repeat: { cron: Cron.everyMinutes(1) }, name: schedulerTest.name, data: {} },
];
