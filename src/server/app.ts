import express, { type Express } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { apiRouter } from './api.js';
import type { AuditLog } from './audit.js';
import { AuthFailures } from './auth.js';
import { mountBoard } from './board.js';
import { SCHEDULE_PAGE_PATH, schedulePageRouter } from './schedule-page.js';
import { healthHandler } from './health.js';
import { errorBody, errorHandler } from './http-errors.js';
import { metricsRouter } from './metrics.js';
import { securityHeaders } from './security.js';
import type { CenterService } from './service.js';

/** What every part of the server is built from. */
export interface ServerDeps {
  readonly config: Config;
  readonly logger: Logger;
  /** The operations the routes may call (the client implements it). */
  readonly service: CenterService;
  readonly audit: AuditLog;
}

/** The express app: `/healthz`, `/metrics`, `/api` (when API_TOKEN is set) and the board. */
export function buildApp(deps: ServerDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.use(securityHeaders);
  // One failed-login budget per client address, shared by the board, /metrics and /api.
  const failures = AuthFailures.fromConfig(config);
  app.get('/healthz', healthHandler(deps.service));
  app.use('/metrics', metricsRouter(deps, failures));
  if (config.server.apiTokens.length > 0) {
    app.use('/api', apiRouter(deps, failures));
  } else {
    logger.warn('API_TOKEN is not set: the HTTP API (/api) is not served (set API_TOKEN or API_TOKENS)');
  }
  if (config.server.board.admin) app.use(SCHEDULE_PAGE_PATH, schedulePageRouter(deps, failures));
  mountBoard(app, deps, failures);
  app.get('/', (_req, res) => res.redirect(config.server.board.basePath));
  app.use((req, res) => {
    res.status(404).json(errorBody(`No route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));
  return app;
}
