import express, { Router, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Repeat } from '../client.js';
import { queueNames } from '../contracts/index.js';
import { NotFoundError, UnavailableError, ValidationError, type FieldIssue } from '../errors.js';
import type { ServerDeps } from './app.js';
import { decodeSegment, type AuditLog, type AuditRecord } from './audit.js';
import { requireBearer, type AuthFailures } from './auth.js';
import { errorBody } from './http-errors.js';
import { openApiDocument } from './openapi.js';

const MAX_DELAY = 10 * 365 * 24 * 3600 * 1000;

/** `POST /api/jobs`: enqueue now, later (`delay` / `runAt`) or after another job (`after`). */
export const enqueueBody = z
  .object({
    name: z.string(),
    data: z.unknown().optional(),
    delay: z.number().int().min(0).max(MAX_DELAY).optional(),
    runAt: z.iso.datetime({ offset: true }).optional(),
    jobId: z.string().optional(),
    priority: z.number().int().min(1).max(2_097_152).optional(),
    attempts: z.number().int().min(1).max(1000).optional(),
    after: z.object({ queue: z.enum(queueNames as [string, ...string[]]), id: z.string().min(1) }).strict().optional(),
    on: z.enum(['success', 'finished']).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.delay !== undefined && b.runAt !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['runAt'], message: 'give either delay or runAt, not both' });
    }
    if (b.on !== undefined && b.after === undefined) {
      ctx.addIssue({ code: 'custom', path: ['on'], message: 'on needs after (the parent job)' });
    }
    if (b.after !== undefined) {
      for (const f of ['delay', 'runAt', 'priority', 'attempts'] as const) {
        if (b[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f} cannot be combined with after` });
      }
    }
  });

/** `PUT /api/recurring/:id`: create or update a recurring job. */
export const recurringBody = z
  .object({
    name: z.string(),
    data: z.unknown().optional(),
    cron: z.string().optional(),
    every: z.number().int().optional(),
    tz: z.string().optional(),
    dst: z.object({ gap: z.enum(['shift', 'skip']).optional(), overlap: z.enum(['once', 'both']).optional() }).strict().optional(),
    overlap: z.enum(['allow', 'skip']).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.cron !== undefined && b.every !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['every'], message: 'give either cron or every, not both' });
    } else if (b.cron === undefined && b.every === undefined) {
      ctx.addIssue({ code: 'custom', path: ['cron'], message: 'cron (a pattern) or every (milliseconds) is required' });
    }
    if (b.tz !== undefined && b.every !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['tz'], message: 'tz applies to cron schedules only' });
    }
    if (b.dst !== undefined && b.every !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['dst'], message: 'dst applies to cron schedules only' });
    }
  });

/** Parses a request body, naming every bad or unknown field in the 400's details. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('The request body must be a JSON object (send Content-Type: application/json)', [
      { field: 'body', message: 'body must be a JSON object' },
    ]);
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const details: FieldIssue[] = [];
  for (const issue of result.error.issues) {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const field = at ? `${at}.${key}` : key;
        details.push({ field, message: `${field}: unknown field` });
      }
    } else {
      details.push({ field: at || 'body', message: `${at || 'body'}: ${issue.message}` });
    }
  }
  throw new ValidationError(`Invalid request body: ${details.map((d) => d.message).join('; ')}`, details);
}

interface AuditLocals {
  action: string;
  queue?: string;
  job?: string;
  schedule?: string;
  detail?: string;
}

const MUTATIONS: [method: string, path: RegExp, action: string][] = [
  ['POST', /^\/jobs\/?$/, 'job.enqueue'],
  ['PUT', /^\/recurring\/([^/]+)\/?$/, 'recurring.upsert'],
  ['DELETE', /^\/recurring\/([^/]+)\/?$/, 'recurring.remove'],
  ['POST', /^\/recurring\/([^/]+)\/trigger\/?$/, 'recurring.trigger'],
  ['POST', /^\/jobs\/[^/]+\/[^/]+\/retry\/?$/, 'job.retry'],
];

/**
 * Writes one audit record per mutating request when its answer is sent — successes, refusals
 * (401) and bad input alike. Handlers add what they learnt (job id, queue) to `res.locals.audit`.
 */
function auditMutations(audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const match = MUTATIONS.find(([m, re]) => m === req.method && re.test(req.path));
    const schedule = match?.[2].startsWith('recurring') ? decodeSegment(match[1].exec(req.path)?.[1]) : undefined;
    const locals: AuditLocals = { action: match?.[2] ?? `${req.method} ${req.path}`, ...(schedule ? { schedule } : {}) };
    res.locals.audit = locals;
    res.once('finish', () => {
      const status = res.statusCode;
      const entry: AuditRecord = {
        actor: status === 401 || status === 429 ? 'anonymous' : 'api-token',
        action: locals.action,
        ip: req.ip,
        result: status < 400 ? 'ok' : status === 401 || status === 403 || status === 429 ? 'denied' : 'error',
        status,
        ...(locals.queue ? { queue: locals.queue } : {}),
        ...(locals.job ? { job: locals.job } : {}),
        ...(locals.schedule ? { schedule: locals.schedule } : {}),
        ...(locals.detail ? { detail: locals.detail } : {}),
      };
      audit.record(entry);
    });
    next();
  };
}


const auditOf = (res: Response): AuditLocals => (res.locals.audit ?? { action: 'unknown' }) as AuditLocals;

/**
 * The JSON API under `/api`, behind `Authorization: Bearer <API_TOKEN>`. Handlers return results;
 * the app's error middleware turns ValidationError → 400, NotFoundError → 404, UnavailableError →
 * 503 and body-parser errors → 400/413. `GET /api/openapi.json` describes every route. Failed
 * token checks count against `failures` (429 once an address has too many).
 */
export function apiRouter(deps: ServerDeps, failures?: AuthFailures): Router {
  const { client } = deps;
  const router = Router();
  // The API's description is public (the board links to it); everything else needs the token.
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.use(auditMutations(deps.audit));
  router.use(requireBearer(deps.config.server.apiToken ?? '', failures));
  router.use(express.json({ limit: deps.config.server.bodyLimit }));

  router.post('/jobs', async (req, res) => {
    const body = parseBody(enqueueBody, req.body);
    const audit = auditOf(res);
    const data = body.data ?? {};
    let created;
    if (body.after) {
      audit.action = 'job.continue';
      created = await client.continueWithUnchecked(body.after, body.name, data, { on: body.on, jobId: body.jobId });
    } else {
      created = await client.add(body.name, data, {
        delay: body.delay,
        at: body.runAt !== undefined ? new Date(body.runAt) : undefined,
        jobId: body.jobId,
        priority: body.priority,
        attempts: body.attempts,
      });
    }
    Object.assign(audit, { queue: created.queue, job: created.id, detail: created.duplicate ? 'duplicate' : created.name });
    res
      .status(created.duplicate ? 200 : 201)
      .location(`${req.baseUrl}/jobs/${encodeURIComponent(created.queue)}/${encodeURIComponent(created.id)}`)
      .json(created);
  });

  router.get('/jobs/:queue/:id', async (req, res) => {
    const ref = { queue: req.params.queue, id: req.params.id };
    client.queues.get(ref.queue);
    const job = await client.getJob(ref);
    if (!job) throw new NotFoundError(`No job ${ref.queue}/${ref.id} (never existed, or removed by retention)`);
    res.json(job);
  });

  router.post('/jobs/:queue/:id/retry', async (req, res) => {
    const ref = { queue: req.params.queue, id: req.params.id };
    Object.assign(auditOf(res), { queue: ref.queue, job: ref.id });
    res.status(202).json(await client.retry(ref));
  });

  router.get('/recurring', async (_req, res) => {
    res.json(await client.recurring.list());
  });

  router.get('/recurring/:id', async (req, res) => {
    const info = await client.recurring.get(req.params.id);
    if (!info) throw new NotFoundError(`No recurring job with id ${JSON.stringify(req.params.id)}`);
    res.json(info);
  });

  router.put('/recurring/:id', async (req, res) => {
    const body = parseBody(recurringBody, req.body);
    const repeat: Repeat =
      body.cron !== undefined
        ? { cron: body.cron, ...(body.tz ? { tz: body.tz } : {}), ...(body.dst ? { dst: body.dst } : {}) }
        : { every: body.every! };
    const info = await client.recurring.upsertUnchecked(req.params.id, repeat, body.name, body.data ?? {}, { overlap: body.overlap });
    Object.assign(auditOf(res), { queue: info.queue, detail: info.cron ?? `every ${info.every} ms` });
    res.status(200).json(info);
  });

  router.delete('/recurring/:id', async (req, res) => {
    if (!(await client.recurring.remove(req.params.id))) {
      throw new NotFoundError(`No recurring job with id ${JSON.stringify(req.params.id)}`);
    }
    res.status(204).end();
  });

  router.post('/recurring/:id/trigger', async (req, res) => {
    const ref = await client.recurring.trigger(req.params.id);
    Object.assign(auditOf(res), { queue: ref.queue, job: ref.id });
    res.status(202).location(`${req.baseUrl}/jobs/${ref.queue}/${encodeURIComponent(ref.id)}`).json(ref);
  });

  // Keep the reason of a refused mutation in its audit record; the app's error middleware answers.
  router.use(((err, _req, res, next) => {
    const audit = res.locals.audit as AuditLocals | undefined;
    if (audit && err instanceof Error) audit.detail = err.message.slice(0, 300);
    if (err instanceof UnavailableError) res.set('Retry-After', '5');
    next(err);
  }) as express.ErrorRequestHandler);
  router.use((req, res) => {
    res.status(404).json(errorBody(`No API route for ${req.method} ${req.baseUrl}${req.path}; see GET /api/openapi.json`));
  });
  return router;
}
