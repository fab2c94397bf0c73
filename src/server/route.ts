import type { Request } from 'express';
import { z } from 'zod';
import type { CenterService } from './service.js';

/*
 * One API route, declared once: method, path, who may call it, what it takes (zod schemas), what
 * it answers (status codes with schemas) and its handler. The router (api.ts) mounts the table
 * with authentication, scope checks, audit and body parsing; the OpenAPI document (openapi.ts) is
 * generated from the same table, and a route answering a status it does not declare is a bug
 * (logged 500), so the document cannot fall behind the code.
 *
 * To add a route: write it with `defineRoute` in the file of its area under routes/, add it to
 * that file's exported list, and, if it needs a new operation, add that to the client and to
 * CenterService.
 */

/** What a caller may do: `read` only reads; `enqueue` also enqueues, schedules and continues; `admin` does everything. */
export type Scope = 'read' | 'enqueue' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'enqueue', 'admin'];

/** True when a caller with `held` may call a route that needs `needed`. */
export function allows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

/** A handler's answer. `status` must be one the route declares in `responses`. */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** Sets the Location header (relative to the API's base, e.g. `/jobs/default/1`). */
  readonly location?: string;
}

/** What a mutation's audit record says about its target; handlers fill in what they learn. */
export interface AuditTarget {
  action: string;
  queue?: string;
  job?: string;
  schedule?: string;
  detail?: string;
}

/** Per-request context a handler gets besides its parsed input. */
export interface RouteContext {
  readonly service: CenterService;
  readonly req: Request;
  /** The caller's token name, for "Cancelled by <actor>" and the like. */
  readonly actor: string;
  readonly audit: AuditTarget;
}

export interface ResponseSpec {
  readonly description: string;
  /** The body's schema; error statuses (>= 400) default to the common `{ error, details }`. */
  readonly schema?: z.ZodType;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express syntax, relative to `/api`, e.g. `/jobs/:queue/:id`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  /** Who may call it; `public` needs no token (only the API description). */
  readonly scope: Scope | 'public';
  /** Audit action of a mutation (e.g. `job.enqueue`); reads are not audited. */
  readonly action?: string;
  /**
   * What the audit record names from the raw path parameters, known before authentication so
   * refused attempts name their target too. @defaultValue `queue` → queue, `id` → job
   */
  readonly target?: (params: Record<string, string>) => Partial<AuditTarget>;
  /** Path parameters (an object schema whose keys are the `:names` of `path`). */
  readonly params?: P;
  /** Query string (an object schema; values arrive as strings). */
  readonly query?: Q;
  /** JSON body (an object schema). */
  readonly body?: B;
  /** Largest JSON body this route takes (express size syntax). @defaultValue API_BODY_LIMIT */
  readonly bodyLimit?: string;
  /** The statuses the handler answers or throws for (success and domain errors such as 404, 409). */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  readonly handle: (input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }, ctx: RouteContext) => Promise<Reply>;
}

/** A route of the table, with its types erased. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Route = RouteSpec<any, any, any>;

/** Declares a route; its handler's input is typed from its schemas. */
export function defineRoute<P extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined>(
  spec: RouteSpec<P, Q, B>,
): Route {
  return spec as Route;
}

/** `/jobs/:queue/:id` → `/jobs/{queue}/{id}` (OpenAPI path template). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Statuses every route may answer besides its own, by what it takes. */
export function commonResponses(route: Route): Record<number, string> {
  const out: Record<number, string> = { 500: 'Internal error (logged; no stack in the body)' };
  if (route.scope === 'public') return out;
  Object.assign(out, {
    401: 'Missing or invalid bearer token',
    403: `The token's scope does not allow this (needs ${route.scope})`,
    429: 'Too many failed logins from this address; retry after Retry-After seconds',
    503:
      'Redis is unreachable. `outcome`: `not-written` (Redis was down before the call) or `unknown` (it failed during the call); ' +
      'an enqueue also returns its idempotency key in `jobId`: retry with it, it creates the job at most once (Retry-After)',
  });
  if (route.params || route.query || route.body) out[400] = 'Invalid input; details names each bad field';
  if (route.body) {
    out[413] = 'Body larger than API_BODY_LIMIT';
    out[415] = 'Unsupported body encoding';
  }
  return out;
}

/** Every status a route may answer: its own and the common ones. */
export function allStatuses(route: Route): number[] {
  return [...new Set([...Object.keys(route.responses).map(Number), ...Object.keys(commonResponses(route)).map(Number)])].sort();
}
