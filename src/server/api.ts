import express, { Router } from 'express';
import type { ServerDeps } from './app.js';
import { requireBearer } from './auth.js';

/** The JSON API under `/api`, behind `Authorization: Bearer <API_TOKEN>`. */
export function apiRouter(deps: ServerDeps): Router {
  const router = Router();
  router.use(requireBearer(deps.config.server.apiToken ?? ''));
  router.use(express.json({ limit: deps.config.server.bodyLimit }));
  return router;
}
