import { jobs } from '../contracts/index.js';
import { runProcess } from '../src/main.js';
import { startServer } from '../src/server/start.js';

// The app's server (board, /api, /healthz, /metrics) over this repository's job catalog.
runProcess('server', async (ctx) => {
  await startServer(ctx);
}, { contracts: jobs });
