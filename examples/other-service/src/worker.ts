import { defineHandler, startWorkerRuntime } from 'job-center';
import { runProcess } from 'job-center/process';
import { jobs, sendInvoice } from './jobs.js';

const handlers = [
  defineHandler(sendInvoice, async (data, ctx) => {
    // `data` is typed from the contract: { customerId: string; amountCents: number }.
    ctx.log.info({ customer: data.customerId }, 'Sending invoice');
    return { sent: true, customerId: data.customerId, total: (data.amountCents / 100).toFixed(2) };
  }),
];

runProcess('worker', async ({ config, logger, lifecycle }) => {
  await startWorkerRuntime({ config, logger, lifecycle, handlers });
}, { contracts: jobs });
