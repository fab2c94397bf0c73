import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import type { Repeat } from '../../schedules.js';
import { scheduleId } from '../../schemas/fields.js';
import { jobRefOut } from '../../schemas/jobs.js';
import { recurringRequest, scheduleInfo } from '../../schemas/recurring.js';
import { runRecord, runsQuery } from '../../schemas/schedule-health.js';
import { defineRoute, type Route } from '../route.js';

const idPath = z.object({ id: scheduleId });
const noSchedule = (id: string) => new NotFoundError(`No recurring job with id ${JSON.stringify(id)}`);

/** Recurring jobs (BullMQ Job Schedulers). */
export const recurringRoutes: Route[] = [
  defineRoute({
    method: 'get',
    path: '/recurring',
    operationId: 'listRecurring',
    summary: 'Every recurring job with its next run time, last run and health, soonest first',
    scope: 'read',
    responses: { 200: { description: 'Recurring jobs', schema: z.array(scheduleInfo) } },
    async handle(_input, { service }) {
      return { status: 200, body: await service.recurring.list() };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/recurring/:id',
    operationId: 'getRecurring',
    summary: 'One recurring job, with its last run and health',
    scope: 'read',
    params: idPath,
    responses: {
      200: { description: 'The recurring job', schema: scheduleInfo },
      404: { description: 'No such recurring job' },
    },
    async handle({ params }, { service }) {
      const info = await service.recurring.get(params.id);
      if (!info) throw noSchedule(params.id);
      return { status: 200, body: info };
    },
  }),
  defineRoute({
    method: 'put',
    path: '/recurring/:id',
    operationId: 'upsertRecurring',
    summary: 'Create or update a recurring job',
    scope: 'enqueue',
    action: 'recurring.upsert',
    target: (p) => ({ schedule: p.id }),
    params: idPath,
    body: recurringRequest,
    responses: { 200: { description: 'Created or updated', schema: scheduleInfo } },
    async handle({ params, body }, { service, audit }) {
      const repeat: Repeat =
        body.cron !== undefined
          ? { cron: body.cron, ...(body.tz ? { tz: body.tz } : {}), ...(body.dst ? { dst: body.dst } : {}), ...windowOf(body) }
          : { every: body.every!, ...windowOf(body) };
      const info = await service.recurring.upsertUnchecked(params.id, repeat, body.name, body.data ?? {}, {
        overlap: body.overlap,
        ...(body.grace !== undefined ? { grace: body.grace } : {}),
        ...(body.misfire !== undefined ? { misfire: body.misfire } : {}),
        ...(body.maxCatchUp !== undefined ? { maxCatchUp: body.maxCatchUp } : {}),
        ...(body.then !== undefined ? { then: body.then } : {}),
      });
      Object.assign(audit, { queue: info.queue, detail: info.cron ?? `every ${info.every} ms` });
      return { status: 200, body: info };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/recurring/:id',
    operationId: 'removeRecurring',
    summary: 'Remove a recurring job (its pending run is removed too)',
    scope: 'admin',
    action: 'recurring.remove',
    target: (p) => ({ schedule: p.id }),
    params: idPath,
    responses: { 204: { description: 'Removed' }, 404: { description: 'No such recurring job' } },
    async handle({ params }, { service }) {
      if (!(await service.recurring.remove(params.id))) throw noSchedule(params.id);
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/recurring/:id/trigger',
    operationId: 'triggerRecurring',
    summary: 'Run a recurring job once now; its schedule is unchanged',
    scope: 'enqueue',
    action: 'recurring.trigger',
    target: (p) => ({ schedule: p.id }),
    params: idPath,
    responses: { 202: { description: 'The job that was added', schema: jobRefOut }, 404: { description: 'No such recurring job' } },
    async handle({ params }, { service, audit }) {
      const ref = await service.recurring.trigger(params.id);
      Object.assign(audit, { queue: ref.queue, job: ref.id });
      return { status: 202, body: ref, location: `/jobs/${ref.queue}/${encodeURIComponent(ref.id)}` };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/recurring/:id/runs',
    operationId: 'recurringRuns',
    summary: "A recurring job's last runs, newest first (SCHEDULE_HISTORY_LIMIT are kept)",
    scope: 'read',
    params: idPath,
    query: runsQuery,
    responses: {
      200: { description: 'The runs, newest first', schema: z.object({ runs: z.array(runRecord) }) },
      404: { description: 'No such recurring job' },
    },
    async handle({ params, query }, { service }) {
      return { status: 200, body: { runs: await service.recurring.runs(params.id, { limit: query.limit }) } };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/recurring/:id/pause',
    operationId: 'pauseRecurring',
    summary: 'Pause a recurring job: it keeps its definition, does not fire and is never overdue; a producer sync does not resume it',
    scope: 'admin',
    action: 'recurring.pause',
    target: (p) => ({ schedule: p.id }),
    params: idPath,
    responses: { 200: { description: 'Paused (or already paused)', schema: scheduleInfo }, 404: { description: 'No such recurring job' } },
    async handle({ params }, { service, audit }) {
      const info = await service.recurring.pause(params.id);
      Object.assign(audit, { queue: info.queue });
      return { status: 200, body: info };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/recurring/:id/resume',
    operationId: 'resumeRecurring',
    summary: 'Resume a paused recurring job from its next tick after now',
    scope: 'admin',
    action: 'recurring.resume',
    target: (p) => ({ schedule: p.id }),
    params: idPath,
    responses: {
      200: { description: 'Resumed (or was not paused)', schema: scheduleInfo },
      404: { description: 'No such recurring job' },
      409: { description: 'It has run its limit, or its window has ended: upsert it with a higher limit or a later endDate' },
    },
    async handle({ params }, { service, audit }) {
      const info = await service.recurring.resume(params.id);
      Object.assign(audit, { queue: info.queue });
      return { status: 200, body: info };
    },
  }),
];

/** The optional window fields of a request, without undefined keys. */
function windowOf(body: { startDate?: string; endDate?: string; limit?: number }) {
  return {
    ...(body.startDate !== undefined ? { startDate: body.startDate } : {}),
    ...(body.endDate !== undefined ? { endDate: body.endDate } : {}),
    ...(body.limit !== undefined ? { limit: body.limit } : {}),
  };
}
