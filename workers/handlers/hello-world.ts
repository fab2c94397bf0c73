import { helloWorld } from '../../contracts/index.js';
import { defineHandler } from '../../src/runtime/handler.js';

export default defineHandler(helloWorld, async (_data, ctx) => {
  const now = new Date().toISOString();
  ctx.log.info({ now }, `Hello World! The time is ${now}`);
  return { now };
});
