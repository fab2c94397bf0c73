import { jobs } from '../contracts/index.js';
import { runProcess } from '../src/main.js';
import { startProducerRuntime } from '../src/runtime/producer-runtime.js';
import { schedules } from './schedules.js';

runProcess('producer', async ({ config, logger, lifecycle }) => {
  await startProducerRuntime({ config, logger, lifecycle, schedules });
}, { contracts: jobs });
