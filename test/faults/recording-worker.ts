import { appendFileSync } from 'node:fs';
import { jobs } from '../../contracts/index.js';
import { runProcess } from '../../src/main.js';
import { defineHandler } from '../../src/runtime/handler.js';
import { startWorkerRuntime } from '../../src/runtime/worker-runtime.js';
import { handlers } from '../../workers/handlers/index.js';

/*
 * The real worker, with every handler wrapped to record its executions in an append-only file
 * (FAULT_LOG). appendFileSync reaches the kernel before the handler returns, so a record survives
 * a SIGKILL of this process and does not depend on Redis, which the fault suite restarts.
 */
const log = process.env.FAULT_LOG;
if (!log) throw new Error('FAULT_LOG must name the executions file');

const recording = handlers.map((h) =>
  defineHandler(h.contract, async (data, ctx) => {
    appendFileSync(log, `start ${ctx.job.queueName}/${ctx.jobId} ${process.pid}\n`);
    const result = await h.run(data, ctx);
    appendFileSync(log, `done ${ctx.job.queueName}/${ctx.jobId} ${process.pid}\n`);
    return result;
  }),
);

runProcess('worker', async ({ config, logger, lifecycle }) => {
  await startWorkerRuntime({ config, logger, lifecycle, handlers: recording });
}, { contracts: jobs });
