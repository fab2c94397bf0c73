import { setTimeout as delay } from 'node:timers/promises';
import { sleep } from '../../contracts/index.js';
import { defineHandler } from '../../src/runtime/handler.js';

const STEPS = 10;

export default defineHandler(sleep, async (data, ctx) => {
  const started = Date.now();
  for (let step = 1; step <= STEPS; step++) {
    const until = started + Math.round((data.ms * step) / STEPS);
    await delay(Math.max(0, until - Date.now()), undefined, { signal: ctx.signal });
    await ctx.progress(step * (100 / STEPS));
  }
  return { sleptMs: Date.now() - started, result: data.result ?? null };
});
