import { jobs } from '../contracts/index.js';
import { runProcess } from '../src/main.js';
import { startWorkerRuntime } from '../src/runtime/worker-runtime.js';
import { handlers } from './handlers/index.js';

runProcess('worker', async ({ config, logger, lifecycle }) => {
  await startWorkerRuntime({ config, logger, lifecycle, handlers });
}, { contracts: jobs });
