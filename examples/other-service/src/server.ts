import { runProcess } from 'job-center/process';
import { startServer } from 'job-center/server';
import { jobs } from './jobs.js';

// The board, /api, /healthz and /metrics over this service's catalog.
runProcess('server', async (ctx) => {
  await startServer(ctx);
}, { contracts: jobs });
