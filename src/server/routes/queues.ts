import { z } from 'zod';
import { queueName } from '../../schemas/fields.js';
import { cleaned, cleanRequest, queuePaused, queueSummary, retriedCount, retryFailedRequest } from '../../schemas/operations.js';
import { defineRoute, type Route } from '../route.js';

const queuePath = z.object({ queue: queueName });
const unknownQueue = { 404: { description: 'Unknown queue' } };

/** Queues: summary, pause/resume, clean, retry every failed job. */
export const queueRoutes: Route[] = [
  defineRoute({
    method: 'get',
    path: '/queues',
    operationId: 'listQueues',
    summary: 'Every queue: counts per state, paused, connected workers, age of the oldest waiting job',
    scope: 'read',
    responses: { 200: { description: 'Queue summaries', schema: z.array(queueSummary) } },
    async handle(_input, { service }) {
      return { status: 200, body: await service.queueSummaries() };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/queues/:queue',
    operationId: 'getQueue',
    summary: 'One queue: counts per state, paused, connected workers, age of the oldest waiting job',
    scope: 'read',
    params: queuePath,
    responses: { 200: { description: 'Queue summary', schema: queueSummary }, ...unknownQueue },
    async handle({ params }, { service }) {
      return { status: 200, body: await service.queueSummary(params.queue) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/queues/:queue/pause',
    operationId: 'pauseQueue',
    summary: 'Pause a queue: workers take no new job from it (active ones finish)',
    scope: 'admin',
    action: 'queue.pause',
    params: queuePath,
    responses: { 200: { description: 'Paused', schema: queuePaused }, ...unknownQueue },
    async handle({ params }, { service }) {
      return { status: 200, body: await service.pauseQueue(params.queue) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/queues/:queue/resume',
    operationId: 'resumeQueue',
    summary: 'Resume a paused queue',
    scope: 'admin',
    action: 'queue.resume',
    params: queuePath,
    responses: { 200: { description: 'Resumed', schema: queuePaused }, ...unknownQueue },
    async handle({ params }, { service }) {
      return { status: 200, body: await service.resumeQueue(params.queue) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/queues/:queue/clean',
    operationId: 'cleanQueue',
    summary: 'Remove jobs of one state older than olderThanMs (BullMQ clean)',
    scope: 'admin',
    action: 'queue.clean',
    params: queuePath,
    body: cleanRequest,
    responses: { 200: { description: 'How many were removed', schema: cleaned }, ...unknownQueue },
    async handle({ params, body }, { service, audit }) {
      const result = await service.cleanQueue(params.queue, body);
      audit.detail = `state=${result.state} removed=${result.removed}`;
      return { status: 200, body: result };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/queues/:queue/retry',
    operationId: 'retryFailed',
    summary: 'Retry every failed job of a queue, or only those of one job name',
    scope: 'admin',
    action: 'queue.retry-failed',
    params: queuePath,
    body: retryFailedRequest,
    responses: { 202: { description: 'How many went back to waiting', schema: retriedCount }, ...unknownQueue },
    async handle({ params, body }, { service, audit }) {
      const result = await service.retryFailed(params.queue, body);
      audit.detail = `retried=${result.retried}${body.name ? ` name=${body.name}` : ''}`;
      return { status: 202, body: result };
    },
  }),
];
