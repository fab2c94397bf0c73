import { z } from 'zod';
import type { ContractMap } from '../jobs/contract.js';
import { allStatuses, commonResponses, openApiPath, type Route } from './route.js';

/*
 * The OpenAPI 3.1 document of `/api`, generated from the route table (routes/) and the request
 * and response schemas (src/schemas/) with zod's `z.toJSONSchema`; job payload schemas come from
 * the contracts. Nothing here is written by hand per route, so it cannot drift from the code.
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

const errorSchema = z.object({
  error: z.string().describe('What went wrong and how to fix it'),
  details: z.array(z.object({ field: z.string(), message: z.string() })).describe('One entry per bad field'),
});

/** A 503's body: the common error plus what a caller needs to retry safely (http-errors.ts). */
const unavailableSchema = errorSchema.extend({
  outcome: z
    .enum(['not-written', 'unknown'])
    .describe('not-written: Redis was down before the call, nothing was written; unknown: it failed during the call, the write may have happened'),
  jobId: z.string().optional().describe('An enqueue: its idempotency key; retry with it, it creates the job at most once'),
  jobIds: z.array(z.string()).optional().describe('A bulk enqueue: the keys of its jobs, in request order; retry with them. A batch: its jobs\' ids, to look them up (a batch takes no ids: check GET /api/batches/{id}, named in error, before calling again)'),
});

function toJson(schema: z.ZodType, io: 'input' | 'output', name: string, into: Record<string, Schema>): Schema {
  return hoist(z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Schema, name, into);
}

/**
 * Request bodies naming a job (`name` + `data`): `name` is one of the catalog's, and `data` must
 * match the payload schema of the job it names.
 */
function withCatalog(schema: Schema, jobNames: string[]): Schema {
  const props = schema.properties as Record<string, Schema> | undefined;
  if (!props?.name || !('data' in props)) return schema;
  return {
    ...schema,
    properties: { ...props, name: { ...ref('JobName'), description: props.name.description } },
    allOf: jobNames.map((name) => ({
      if: { properties: { name: { const: name } }, required: ['name'] },
      then: { properties: { data: ref(`Payload.${name}`) } },
    })),
  };
}

const cache = new WeakMap<readonly Route[], Schema>();

/** The OpenAPI document served at `GET /api/openapi.json`. */
export function openApiDocument(routes: readonly Route[], contracts: ContractMap): Schema {
  const hit = cache.get(routes);
  if (hit) return hit;
  const schemas: Record<string, Schema> = {};
  const jobNames = Object.keys(contracts);
  for (const [name, contract] of Object.entries(contracts)) {
    schemas[`Payload.${name}`] = { ...toJson(contract.schema, 'input', `Payload.${name}`, schemas), description: contract.description };
  }
  schemas.JobName = { type: 'string', enum: jobNames };
  schemas.QueueName = { type: 'string', enum: [...new Set(Object.values(contracts).map((c) => c.queue))] };
  schemas.Error = toJson(errorSchema, 'output', 'Error', schemas);
  schemas.Unavailable = toJson(unavailableSchema, 'output', 'Unavailable', schemas);

  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const id = route.operationId;
    const parameters: Schema[] = [];
    for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
      if (!schema) continue;
      const json = toJson(schema, 'input', `${id}.${where}`, schemas) as { properties?: Record<string, Schema>; required?: string[] };
      for (const [name, s] of Object.entries(json.properties ?? {})) {
        const { description, ...rest } = s;
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (json.required ?? []).includes(name),
          schema: name === 'queue' && where === 'path' ? ref('QueueName') : rest,
          ...(description ? { description } : {}),
        });
      }
    }
    const responses: Record<string, Schema> = {};
    const common = commonResponses(route);
    for (const status of allStatuses(route)) {
      const own = route.responses[status];
      const description = own?.description ?? common[status]!;
      const schema = own?.schema ? ref(`${id}.${status}`) : status === 503 ? ref('Unavailable') : status >= 400 ? ref('Error') : undefined;
      if (own?.schema) schemas[`${id}.${status}`] = toJson(own.schema, 'output', `${id}.${status}`, schemas);
      responses[String(status)] = { description, ...(schema ? { content: { 'application/json': { schema } } } : {}) };
    }
    if (route.body) schemas[`${id}.body`] = withCatalog(toJson(route.body, 'input', `${id}.body`, schemas), jobNames);
    (paths[`/api${openApiPath(route.path)}`] ??= {})[route.method] = {
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      operationId: id,
      ...(route.scope === 'public' ? { security: [] } : { 'x-scope': route.scope }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(`${id}.body`) } } } } : {}),
      responses,
    };
  }

  const doc: Schema = {
    openapi: '3.1.0',
    info: {
      title: 'Job Center API',
      version: '1.0.0',
      description:
        'Enqueue, schedule and continue jobs, manage recurring jobs and read job state. Every error is `{ error, details }` with one ' +
        'detail per bad field. Each operation names the token scope it needs in `x-scope` (read < enqueue < admin).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API_TOKEN, or a token of API_TOKENS (name:scope:token)' } },
      schemas,
    },
  };
  cache.set(routes, doc);
  return doc;
}
