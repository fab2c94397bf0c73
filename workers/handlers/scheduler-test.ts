import { schedulerTest } from '../../src/contracts/index.js';
import { defineHandler } from '../../src/runtime/handler.js';

export default defineHandler(schedulerTest, async (data, ctx) => {
  const ranAt = new Date().toISOString();
  ctx.log.info({ ranAt, note: data.note }, 'Scheduled job test ran');
  return { ranAt };
});
