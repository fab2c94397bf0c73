import { Router } from 'express';
import type { ServerDeps } from './app.js';
import { requireBearer } from './auth.js';

/** `GET /metrics`: Prometheus text for every queue (BullMQ's own exporter), behind the API token. */
export function metricsRouter(deps: ServerDeps): Router {
  const router = Router();
  const token = deps.config.server.apiToken;
  if (token) router.use(requireBearer(token));
  router.get('/', async (_req, res) => {
    const parts = await Promise.all(deps.client.queues.all().map((q) => q.exportPrometheusMetrics()));
    res.type('text/plain; version=0.0.4').send(parts.join('\n'));
  });
  return router;
}
