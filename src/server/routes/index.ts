import type { Route } from '../route.js';
import { alertRoutes } from './alerts.js';
import { batchRoutes } from './batches.js';
import { jobRoutes } from './jobs.js';
import { queueRoutes } from './queues.js';
import { recurringRoutes } from './recurring.js';

/** Every route of `/api`, in matching order (a literal path before a `:param` one of the same shape). */
export const apiRoutes: readonly Route[] = [...jobRoutes, ...recurringRoutes, ...queueRoutes, ...alertRoutes, ...batchRoutes];
