import { schedulerTest } from '../../contracts/index.js';
import { defineHandler } from '../../src/runtime/handler.js';

export default defineHandler(schedulerTest, async (data, ctx) => {
  const ranAt = new Date().toISOString();
  // The tick is what a catch-up run (misfire 'all') is for: tests read it back from the result.
  const tick = ctx.tick?.toISOString() ?? null;
  ctx.log.info({ ranAt, tick, note: data.note }, 'Scheduled job test ran');
  return { ranAt, tick };
});
