import { z } from 'zod';
import { jobs, queueNames } from '../contracts/index.js';

/*
 * The OpenAPI 3.1 document of `/api`, written by hand next to the routes in api.ts (a test checks
 * that every route is documented). Job payload schemas are generated from the contracts, so the
 * document always lists the job names and payloads this build accepts.
 */

type Schema = Record<string, unknown>;

/** Moves a generated schema's `$defs` into components and points its `$ref`s there. */
function hoist(schema: Schema, prefix: string, into: Record<string, Schema>): Schema {
  const { $schema: _ignored, $defs, ...rest } = schema as Schema & { $defs?: Record<string, Schema> };
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [
          k,
          k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? `#/components/schemas/${prefix}.${x.slice(8)}` : rewrite(x),
        ]),
      );
    }
    return v;
  };
  for (const [name, def] of Object.entries($defs ?? {})) into[`${prefix}.${name}`] = rewrite(def) as Schema;
  return rewrite(rest) as Schema;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);

const jobNames = Object.keys(jobs);
const isoDate = { type: ['string', 'null'], format: 'date-time' };

let cached: Schema | undefined;

/** The OpenAPI document served at `GET /api/openapi.json`. */
export function openApiDocument(): Schema {
  if (cached) return cached;
  const schemas: Record<string, Schema> = {};
  for (const [name, contract] of Object.entries(jobs)) {
    const generated = z.toJSONSchema(contract.schema, { io: 'input', unrepresentable: 'any' }) as Schema;
    schemas[`Payload.${name}`] = { ...hoist(generated, `Payload.${name}`, schemas), description: contract.description };
  }
  // `data` must match the payload schema of the job named by `name`.
  const payloadByName = jobNames.map((name) => ({
    if: { properties: { name: { const: name } }, required: ['name'] },
    then: { properties: { data: ref(`Payload.${name}`) } },
  }));
  const ids = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$', description: 'Letters, digits, ".", "_" or "-"; not only digits' };

  Object.assign(schemas, {
    Error: {
      type: 'object',
      required: ['error', 'details'],
      properties: {
        error: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
    JobName: { type: 'string', enum: jobNames },
    QueueName: { type: 'string', enum: [...queueNames] },
    JobRef: { type: 'object', required: ['queue', 'id'], additionalProperties: false, properties: { queue: ref('QueueName'), id: { type: 'string' } } },
    EnqueueRequest: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: ref('JobName'),
        data: { description: "The job's payload; checked against its contract. Default {}." },
        delay: { type: 'integer', minimum: 0, maximum: 315_360_000_000, description: 'Milliseconds to wait. Not with runAt or after.' },
        runAt: { type: 'string', format: 'date-time', description: 'ISO 8601 time with offset. Not with delay or after.' },
        jobId: { ...ids, description: 'Idempotency key: a second request with the same key creates no new job (200, duplicate: true).' },
        priority: { type: 'integer', minimum: 1, maximum: 2_097_152, description: '1 = highest. Not with after.' },
        attempts: { type: 'integer', minimum: 1, maximum: 1000, description: "Overrides the contract's attempts. Not with after." },
        after: { ...ref('JobRef'), description: 'Run as a continuation of this existing job.' },
        on: { type: 'string', enum: ['success', 'finished'], default: 'success', description: 'With after: run only if the parent completed, or either way.' },
      },
      allOf: payloadByName,
    },
    Created: {
      type: 'object',
      required: ['id', 'queue', 'name', 'state'],
      properties: {
        id: { type: 'string' },
        queue: ref('QueueName'),
        name: ref('JobName'),
        state: { type: 'string', description: 'waiting, delayed, prioritized, awaiting (a continuation whose parent has not finished), active, completed, failed' },
        duplicate: { type: 'boolean', description: 'Present (true) when jobId matched an existing job.' },
      },
    },
    JobInfo: {
      type: 'object',
      required: ['id', 'queue', 'name', 'state', 'data', 'progress', 'attemptsMade', 'returnValue', 'failedReason', 'createdAt', 'processedAt', 'finishedAt'],
      properties: {
        id: { type: 'string' },
        queue: ref('QueueName'),
        name: ref('JobName'),
        state: { type: 'string' },
        data: {},
        progress: { description: 'A number 0-100 or an object, as reported by the handler.' },
        attemptsMade: { type: 'integer' },
        returnValue: { description: "The handler's return value once completed, else null." },
        failedReason: { type: ['string', 'null'] },
        createdAt: isoDate,
        processedAt: isoDate,
        finishedAt: isoDate,
      },
    },
    RecurringRequest: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: ref('JobName'),
        data: { description: "The payload of every run; checked against the job's contract. Default {}." },
        cron: { type: 'string', description: '5 fields (minute hour day month weekday) or 6 with seconds first. Exactly one of cron and every.' },
        every: { type: 'integer', minimum: 100, maximum: 31_622_400_000, description: 'Interval in milliseconds. Exactly one of cron and every.' },
        tz: { type: 'string', description: 'IANA time zone of the cron pattern, e.g. Europe/Paris. Cron only.' },
        dst: ref('DstPolicy'),
        overlap: { type: 'string', enum: ['allow', 'skip'], default: 'allow', description: 'skip: a tick is skipped while the previous run is still active.' },
      },
      allOf: payloadByName,
    },
    DstPolicy: {
      type: 'object',
      additionalProperties: false,
      description: 'What a cron schedule with a tz does when a DST change skips or repeats a local time. Cron only.',
      properties: {
        gap: { type: 'string', enum: ['shift', 'skip'], default: 'shift', description: 'A skipped local time runs once at the end of the gap (shift) or not at all (skip).' },
        overlap: { type: 'string', enum: ['once', 'both'], default: 'once', description: 'A repeated local time runs at its first occurrence only (once) or at both.' },
      },
    },
    Recurring: {
      type: 'object',
      required: ['id', 'name', 'queue', 'description', 'next', 'data', 'overlap', 'owner'],
      properties: {
        id: { type: 'string' },
        name: ref('JobName'),
        queue: ref('QueueName'),
        cron: { type: 'string' },
        every: { type: 'integer' },
        tz: { type: 'string' },
        dst: ref('DstPolicy'),
        description: { type: 'string', description: 'The pattern in words, e.g. "At 02:30, every day (Europe/Paris)".' },
        next: { ...isoDate, description: 'The next run time.' },
        data: {},
        overlap: { type: 'string', enum: ['allow', 'skip'] },
        owner: { type: ['string', 'null'], description: 'The producer that declares it in code (it re-creates it if removed), or null.' },
      },
    },
  });

  const common = {
    '401': error('Missing or invalid bearer token'),
    '503': error('Redis is unreachable; nothing was written. Retry later (Retry-After).'),
  };
  const scheduleId = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,100}$' } };

  cached = {
    openapi: '3.1.0',
    info: {
      title: 'Job Center API',
      version: '1.0.0',
      description:
        'Enqueue, schedule and continue jobs, manage recurring jobs and read job state. Every error is `{ error, details }` with one detail per bad field.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: {
      '/api/jobs': {
        post: {
          summary: 'Enqueue a job: now, after a delay, at a time, or as a continuation of another job',
          operationId: 'enqueue',
          requestBody: { required: true, ...json(ref('EnqueueRequest'), 'The job') },
          responses: {
            '201': json(ref('Created'), 'Created'),
            '200': json(ref('Created'), 'A job with this jobId already exists; nothing was added'),
            '400': error('Malformed JSON, unknown field, unknown job name, invalid payload or option'),
            '404': error('after names a job that does not exist'),
            '413': error('Body larger than API_BODY_LIMIT'),
            ...common,
          },
        },
      },
      '/api/jobs/{queue}/{id}': {
        get: {
          summary: "A job's state, progress and result",
          operationId: 'getJob',
          parameters: [
            { name: 'queue', in: 'path', required: true, schema: ref('QueueName') },
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: { '200': json(ref('JobInfo'), 'The job'), '404': error('Unknown queue, or no such job'), ...common },
        },
      },
      '/api/jobs/{queue}/{id}/retry': {
        post: {
          summary: 'Retry a failed job: it runs once more, its attempt count going on',
          operationId: 'retryJob',
          parameters: [
            { name: 'queue', in: 'path', required: true, schema: ref('QueueName') },
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: {
            '202': json(ref('JobRef'), 'Back in the queue'),
            '404': error('Unknown queue, or no such job'),
            '409': error('The job is not failed'),
            ...common,
          },
        },
      },
      '/api/recurring': {
        get: {
          summary: 'Every recurring job with its next run time, soonest first',
          operationId: 'listRecurring',
          responses: { '200': json({ type: 'array', items: ref('Recurring') }, 'Recurring jobs'), ...common },
        },
      },
      '/api/recurring/{id}': {
        get: {
          summary: 'One recurring job',
          operationId: 'getRecurring',
          parameters: [scheduleId],
          responses: { '200': json(ref('Recurring'), 'The recurring job'), '404': error('No such recurring job'), ...common },
        },
        put: {
          summary: 'Create or update a recurring job',
          operationId: 'upsertRecurring',
          parameters: [scheduleId],
          requestBody: { required: true, ...json(ref('RecurringRequest'), 'The schedule') },
          responses: {
            '200': json(ref('Recurring'), 'Created or updated'),
            '400': error('Malformed JSON, unknown field, bad id, unknown job name, invalid payload, invalid cron or tz, both cron and every'),
            '413': error('Body larger than API_BODY_LIMIT'),
            ...common,
          },
        },
        delete: {
          summary: 'Remove a recurring job (its pending run is removed too)',
          operationId: 'removeRecurring',
          parameters: [scheduleId],
          responses: { '204': { description: 'Removed' }, '404': error('No such recurring job'), ...common },
        },
      },
      '/api/recurring/{id}/trigger': {
        post: {
          summary: 'Run a recurring job once now; its schedule is unchanged',
          operationId: 'triggerRecurring',
          parameters: [scheduleId],
          responses: { '202': json(ref('JobRef'), 'The job that was added'), '404': error('No such recurring job'), ...common },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document (no token needed)', operationId: 'openapi', security: [], responses: { '200': { description: 'OpenAPI 3.1 document' } } },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The API_TOKEN of the server' } },
      schemas,
    },
  };
  return cached;
}
