import express, { Router, type RequestHandler, type Response } from 'express';
import { UnavailableError, ValidationError } from '../errors.js';
import { parseRequest } from '../schemas/parse.js';
import type { ServerDeps } from './app.js';
import { CLIENT_GONE, whenAnswered, type AuditLog, type AuditRecord } from './audit.js';
import { callerOf, requireApiToken, type AuthFailures } from './auth.js';
import { errorBody } from './http-errors.js';
import { openApiDocument } from './openapi.js';
import { allows, allStatuses, defineRoute, type AuditTarget, type Route } from './route.js';
import { apiRoutes } from './routes/index.js';

/** The route serving the API's own description; public, so the board can link to it. */
function openApiRoute(routes: readonly Route[]): Route {
  return defineRoute({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document (no token needed)',
    scope: 'public',
    responses: { 200: { description: 'OpenAPI 3.1 document' } },
    async handle(_input, { service }) {
      return { status: 200, body: openApiDocument(routes, service.contracts) };
    },
  });
}

/** Every route the API serves, its own description included. */
export function allApiRoutes(): readonly Route[] {
  const routes: Route[] = [];
  routes.push(openApiRoute(routes), ...apiRoutes);
  return routes;
}

const auditOf = (res: Response): AuditTarget | undefined => res.locals.audit as AuditTarget | undefined;

/**
 * Writes one audit record per mutating request when its answer is sent: successes, refusals
 * (401/403/429) and bad input alike, naming the caller's token. Handlers add what they learnt.
 */
function auditStart(route: Route, audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    const params = req.params as Record<string, string>;
    const target: AuditTarget = {
      action: route.action!,
      ...(route.target ? route.target(params) : { queue: params.queue, job: params.id }),
    };
    res.locals.audit = target;
    whenAnswered(res, (status, gone) => record(audit, req.ip, res, status, gone, target));
    next();
  };
}

function record(audit: AuditLog, ip: string | undefined, res: Response, status: number, gone: boolean, target: AuditTarget): void {
  const detail = gone ? [target.detail, CLIENT_GONE].filter(Boolean).join('; ') : target.detail;
  const entry: AuditRecord = {
    actor: callerOf(res)?.name ?? 'anonymous',
    ...(Object.fromEntries(Object.entries({ ...target, detail }).filter(([, v]) => v !== undefined)) as unknown as AuditTarget),
    ip,
    result: status < 400 ? 'ok' : status === 401 || status === 403 || status === 429 ? 'denied' : 'error',
    status,
  };
  audit.record(entry);
}

/** 403 unless the caller's token scope covers the route's. */
function requireScope(route: Route): RequestHandler {
  return (_req, res, next) => {
    const caller = callerOf(res);
    if (caller && route.scope !== 'public' && allows(caller.scope, route.scope)) return next();
    res
      .status(403)
      .json(
        errorBody(`The token ${JSON.stringify(caller?.name)} has scope ${caller?.scope}; ${route.method.toUpperCase()} ${route.path} needs ${route.scope}`, [
          { field: 'Authorization', message: `use a token with scope ${route.scope}${route.scope === 'admin' ? '' : ' or admin'} (API_TOKENS=name:scope:token)` },
        ]),
      );
  };
}

/** Parses a JSON body: it must be an object. */
function bodyOf(body: unknown): unknown {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('The request body must be a JSON object (send Content-Type: application/json)', [
      { field: 'body', message: 'body must be a JSON object' },
    ]);
  }
  return body;
}

function handlerOf(route: Route, deps: ServerDeps): RequestHandler {
  const declared = new Set(allStatuses(route));
  return async (req, res) => {
    const input = {
      params: route.params ? parseRequest(route.params, req.params, 'path') : undefined,
      query: route.query ? parseRequest(route.query, { ...(req.query as object) }, 'query string') : undefined,
      body: route.body ? parseRequest(route.body, bodyOf(req.body), 'request body') : undefined,
    };
    const reply = await route.handle(input, {
      service: deps.service,
      req,
      actor: callerOf(res)?.name ?? 'anonymous',
      audit: auditOf(res) ?? { action: 'read' },
    });
    if (!declared.has(reply.status)) {
      throw new Error(`${route.operationId} answered ${reply.status}, which its route does not declare (see route.ts)`);
    }
    if (reply.location) res.location(`${req.baseUrl}${reply.location}`);
    res.status(reply.status);
    if (reply.body === undefined) res.end();
    else res.json(reply.body);
  };
}

/**
 * The JSON API under `/api`, mounted from the route table (routes/): for each route, audit (for
 * mutations), `Authorization: Bearer <token>` (401, or 429 once an address failed too often), the
 * token's scope (403), the JSON body, then the handler. The app's error middleware turns
 * ValidationError → 400, NotFoundError → 404, ConflictError → 409, UnavailableError → 503.
 */
export function apiRouter(deps: ServerDeps, failures?: AuthFailures): Router {
  const router = Router();
  const auth = requireApiToken(deps.config.server.apiTokens, failures);
  const json = express.json({ limit: deps.config.server.bodyLimit });
  for (const route of allApiRoutes()) {
    const chain: RequestHandler[] = [];
    if (route.action) chain.push(auditStart(route, deps.audit));
    if (route.scope !== 'public') chain.push(auth, requireScope(route));
    if (route.body) chain.push(route.bodyLimit ? express.json({ limit: route.bodyLimit }) : json);
    chain.push(handlerOf(route, deps));
    router[route.method](route.path, ...chain);
  }

  // Keep the reason of a refused mutation in its audit record; the app's error middleware answers.
  router.use(((err, _req, res, next) => {
    const audit = auditOf(res);
    if (audit && err instanceof Error) audit.detail = err.message.slice(0, 300);
    if (err instanceof UnavailableError) res.set('Retry-After', '5');
    next(err);
  }) as express.ErrorRequestHandler);
  router.use((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
      const target: AuditTarget = { action: `${req.method} ${req.path}` };
      whenAnswered(res, (status, gone) => record(deps.audit, req.ip, res, status, gone, target));
    }
    res.status(404).json(errorBody(`No API route for ${req.method} ${req.baseUrl}${req.path}; see GET /api/openapi.json`));
  });
  return router;
}
