import { fail } from '../../contracts/index.js';
import { defineHandler } from '../../src/runtime/handler.js';

export default defineHandler(fail, async (data, ctx) => {
  if (data.times === undefined || ctx.attempt <= data.times) {
    throw new Error(data.message);
  }
  ctx.log.info({ attempt: ctx.attempt }, 'fail job succeeded after failing as asked');
  return { succeededOnAttempt: ctx.attempt };
});
