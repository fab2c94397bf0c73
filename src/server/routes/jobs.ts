import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import { bulkRequest, created, enqueueRequest, MAX_BULK_JOBS, type BulkItem } from '../../schemas/enqueue.js';
import { errorBody } from '../http-errors.js';
import { queueName } from '../../schemas/fields.js';
import { jobInfo, jobMoved } from '../../schemas/jobs.js';
import { cancelled, jobList, jobListQuery, jobLogs, jobLogsQuery } from '../../schemas/operations.js';
import { defineRoute, type Route } from '../route.js';

const jobPath = z.object({ queue: queueName, id: z.string().min(1) });
const location = (ref: { queue: string; id: string }) => `/jobs/${encodeURIComponent(ref.queue)}/${encodeURIComponent(ref.id)}`;
const noJob = (ref: { queue: string; id: string }) => new NotFoundError(`No job ${ref.queue}/${ref.id} (never existed, or removed by retention)`);

/** Enqueue, read and retry single jobs. */
export const jobRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/jobs',
    operationId: 'enqueue',
    summary: 'Enqueue a job: now, after a delay, at a time, or as a continuation of another job',
    scope: 'enqueue',
    action: 'job.enqueue',
    body: enqueueRequest,
    responses: {
      201: { description: 'Created', schema: created },
      200: { description: 'A job with this jobId already exists, or dedupe kept the existing job; nothing was added', schema: created },
      404: { description: 'after names a job that does not exist' },
    },
    async handle({ body }, { service, audit }) {
      const data = body.data ?? {};
      let job;
      if (body.after) {
        audit.action = 'job.continue';
        job = await service.continueWithUnchecked(body.after, body.name, data, { on: body.on, jobId: body.jobId });
      } else {
        const { name: _n, data: _d, after: _a, on: _o, runAt, ...opts } = body;
        job = await service.add(body.name, data, { ...opts, ...(runAt !== undefined ? { at: new Date(runAt) } : {}) });
      }
      Object.assign(audit, { queue: job.queue, job: job.id, detail: job.duplicate ? 'duplicate' : job.name });
      if (job.deduplicated) audit.detail = 'deduplicated';
      return { status: job.duplicate || job.deduplicated ? 200 : 201, body: job, location: location(job) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/jobs/bulk',
    operationId: 'enqueueBulk',
    summary: `Enqueue up to ${MAX_BULK_JOBS} jobs at once: all of them, or none when any is invalid`,
    description:
      'Every job is validated first (name, payload against its contract, options); one invalid job fails the request with 400 ' +
      'and details naming each bad field as jobs.<index>.<field>, and nothing is enqueued. Valid jobs are added with BullMQ addBulk ' +
      '(one transaction per queue). The body may be up to 5 MB; more than 1000 jobs answers 413.',
    scope: 'enqueue',
    action: 'job.enqueue-bulk',
    body: bulkRequest,
    bodyLimit: '5mb',
    responses: {
      201: { description: 'Created, one entry per job in request order (duplicate: true where a jobId already existed)', schema: z.object({ jobs: z.array(created) }) },
    },
    async handle({ body }, { service, audit }) {
      if (body.jobs.length > MAX_BULK_JOBS) {
        return {
          status: 413,
          body: errorBody(`Too many jobs: ${body.jobs.length}; send at most ${MAX_BULK_JOBS} per request`, [
            { field: 'jobs', message: `jobs: at most ${MAX_BULK_JOBS} items, got ${body.jobs.length}` },
          ]),
        };
      }
      const jobs = await service.enqueueManyUnchecked(
        body.jobs.map(({ name, data, runAt, ...opts }: BulkItem) => ({ name, data: data ?? {}, opts: { ...opts, ...(runAt !== undefined ? { at: new Date(runAt) } : {}) } })),
      );
      Object.assign(audit, { detail: `${jobs.length} jobs` });
      return { status: 201, body: { jobs } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/jobs/:queue/:id',
    operationId: 'getJob',
    summary: "A job's state, progress and result",
    scope: 'read',
    params: jobPath,
    responses: {
      200: { description: 'The job', schema: jobInfo },
      404: { description: 'Unknown queue, or no such job' },
    },
    async handle({ params }, { service }) {
      const job = await service.getJob(params);
      if (!job) throw noJob(params);
      return { status: 200, body: job };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/jobs/:queue/:id/retry',
    operationId: 'retryJob',
    summary: 'Retry a failed job: it runs once more, its attempt count going on',
    scope: 'admin',
    action: 'job.retry',
    params: jobPath,
    responses: {
      202: { description: 'Back in the queue', schema: jobMoved },
      404: { description: 'Unknown queue, or no such job' },
      409: { description: 'The job is not failed' },
    },
    async handle({ params }, { service, audit }) {
      Object.assign(audit, { queue: params.queue, job: params.id });
      return { status: 202, body: await service.retry(params) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/jobs',
    operationId: 'listJobs',
    summary: 'List and search jobs, newest first (by creation time), a page at a time',
    description:
      'Filters combine. Looks at the 2000 most recent jobs of each queue and state. Awaiting continuations are not listed ' +
      '(GET /api/jobs/{queue}/{id} shows one). Pass nextCursor as cursor for the next page.',
    scope: 'read',
    query: jobListQuery,
    responses: { 200: { description: 'A page of jobs', schema: jobList }, 404: { description: 'Unknown queue' } },
    async handle({ query }, { service }) {
      return { status: 200, body: await service.listJobs(query) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/jobs/:queue/:id/logs',
    operationId: 'jobLogs',
    summary: "A job's log lines (its handler's ctx.log), oldest first",
    scope: 'read',
    params: jobPath,
    query: jobLogsQuery,
    responses: { 200: { description: 'Log lines', schema: jobLogs }, 404: { description: 'Unknown queue, or no such job' } },
    async handle({ params, query }, { service }) {
      return { status: 200, body: await service.jobLogs(params, query) };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/jobs/:queue/:id',
    operationId: 'cancelJob',
    summary: 'Cancel or remove a job',
    description:
      'Waiting, delayed, prioritized or finished: removed. An awaiting continuation: withdrawn (never runs). Active: its worker aborts ' +
      'ctx.signal and the job ends failed with "Cancelled by <token name>", without retries; 202 with outcome cancelling when it had ' +
      'not ended within 5 s; outcome finished when it ended on its own before the abort reached it (nothing was cancelled).',
    scope: 'admin',
    action: 'job.cancel',
    params: jobPath,
    responses: {
      200: { description: 'Removed or cancelled', schema: cancelled },
      202: { description: 'Abort sent to the worker; the job had not ended yet', schema: cancelled },
      404: { description: 'Unknown queue, or no such job' },
    },
    async handle({ params }, { service, actor, audit }) {
      const result = await service.cancelJob(params, actor);
      audit.detail = result.outcome;
      return { status: result.outcome === 'cancelling' ? 202 : 200, body: result };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/jobs/:queue/:id/promote',
    operationId: 'promoteJob',
    summary: 'Run a delayed job now',
    scope: 'admin',
    action: 'job.promote',
    params: jobPath,
    responses: {
      200: { description: 'Moved to waiting', schema: jobMoved },
      404: { description: 'Unknown queue, or no such job' },
      409: { description: 'The job is not delayed' },
    },
    async handle({ params }, { service }) {
      return { status: 200, body: await service.promoteJob(params) };
    },
  }),
];
