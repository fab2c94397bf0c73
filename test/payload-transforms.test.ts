import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { JobCenterClient } from '../src/client.js';
import { loadConfig } from '../src/config.js';
import { defineJob } from '../src/jobs/contract.js';
import { Lifecycle } from '../src/lifecycle.js';
import { defineHandler } from '../src/runtime/handler.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import { silentLogger, useTestCenter } from './support/center.js';
import { waitFor } from './support/processes.js';

/*
 * A contract's schema is applied once, to what the caller sent: the handler gets that parse.
 * Enqueue used to store the parse's output, which the worker parsed again: a transform ran twice
 * (a suffix added twice), and one that changes the type failed every job.
 */

const center = useTestCenter();

const greet = defineJob({ name: 'greet', queue: 'tq', schema: z.object({ who: z.string().transform((s) => `${s}!`) }).strict() });
const charge = defineJob({
  name: 'charge',
  queue: 'tq',
  schema: z.object({ amount: z.string().transform(Number), currency: z.string().default('EUR') }).strict(),
});
const contracts = { greet, charge } as const;

describe('payload schemas with transforms and defaults', () => {
  it('the handler gets one parse of what the caller sent; the job stores what was sent', async () => {
    const { env } = await center.setup();
    const config = loadConfig({ ...env, LOG_LEVEL: 'silent' }, { contracts });
    const client = new JobCenterClient(config, silentLogger);
    const lifecycle = new Lifecycle(silentLogger);
    try {
      await client.ready();
      await startWorkerRuntime({
        config,
        logger: silentLogger,
        lifecycle,
        handlers: [defineHandler(greet, async (d) => d.who), defineHandler(charge, async (d) => ({ doubled: d.amount * 2, currency: d.currency }))],
      });
      const g = await client.enqueue('greet', { who: 'bob' });
      const c = await client.enqueue('charge', { amount: '21' });
      const done = async (ref: typeof g) => waitFor(async () => ((j) => (j && ['completed', 'failed'].includes(j.state) ? j : undefined))(await client.getJob(ref)), `${ref.id} to finish`);
      const [gi, ci] = [await done(g), await done(c)];
      assert.equal(gi.state, 'completed', gi.failedReason ?? '');
      assert.equal(gi.returnValue, 'bob!');
      assert.deepEqual(gi.data, { who: 'bob' }, 'stored as sent');
      assert.equal(ci.state, 'completed', ci.failedReason ?? '');
      assert.deepEqual(ci.returnValue, { doubled: 42, currency: 'EUR' });
      const scheduled = await client.recurring.upsert('charges', { every: 3_600_000 }, 'charge', { amount: '5' });
      assert.deepEqual(scheduled.data, { amount: '5' }, "a schedule's ticks carry what was sent too");
    } finally {
      await lifecycle.shutdown();
      await client.close();
    }
  });
});
