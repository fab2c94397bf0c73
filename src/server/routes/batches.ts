import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import { batchCreated, batchRequest, batchStatus } from '../../schemas/batch.js';
import type { BulkItem } from '../../schemas/enqueue.js';
import { jobId } from '../../schemas/fields.js';
import { defineRoute, type Route } from '../route.js';

/** Batches (fan-in): many jobs and one job that runs after all of them. */
export const batchRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/batches',
    operationId: 'createBatch',
    summary: 'Enqueue jobs as a batch, with one job (then) that runs once after all of them finished',
    description:
      "on: success (default) runs then only if every job completed; finished runs it in any case. Jobs are validated first, all or none. Progress: GET /api/batches/{id}. " +
      'Give an id (a UUID) to make a retry safe: the same request again with that id creates nothing twice.',
    scope: 'enqueue',
    action: 'batch.create',
    body: batchRequest,
    bodyLimit: '5mb',
    responses: {
      201: { description: 'Created', schema: batchCreated },
      200: { description: 'A batch with this id existed (a retry): only its missing jobs were added (duplicate: true)', schema: batchCreated },
      409: { description: 'A batch with this id exists for another request' },
    },
    async handle({ body }, { service, audit }) {
      const created = await service.batchUnchecked(
        body.jobs.map(({ name, data, runAt, ...opts }: BulkItem) => ({ name, data: data ?? {}, opts: { ...opts, ...(runAt !== undefined ? { at: new Date(runAt) } : {}) } })),
        { ...(body.id ? { id: body.id } : {}), ...(body.then ? { then: body.then } : {}), ...(body.on ? { on: body.on } : {}) },
      );
      audit.detail = `batch ${created.id}: ${created.duplicate ? 'duplicate' : `${created.jobs.length} jobs${created.then ? `, then ${created.then.name}` : ''}`}`;
      return { status: created.duplicate ? 200 : 201, body: created, location: `/batches/${created.id}` };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/batches/:id',
    operationId: 'getBatch',
    summary: "A batch's (or a join's) progress (total, completed, failed, pending) and the state of its then job",
    scope: 'read',
    // A batch's id is a UUID; a join's (after with several parents) is its idempotency key.
    params: z.object({ id: jobId.describe('A batch id, or the join of a continuation after several parents') }),
    responses: { 200: { description: 'Progress', schema: batchStatus }, 404: { description: 'No such batch' } },
    async handle({ params }, { service }) {
      const status = await service.getBatch(params.id);
      if (!status) throw new NotFoundError(`No batch ${params.id}`);
      return { status: 200, body: status };
    },
  }),
];
