import { z } from 'zod';
import { alertsQuery, incident } from '../../schemas/alerts.js';
import { defineRoute, type Route } from '../route.js';

/** Alerts the center raised (docs/SCHEDULES.md). */
export const alertRoutes: Route[] = [
  defineRoute({
    method: 'get',
    path: '/alerts',
    operationId: 'listAlerts',
    summary: 'Recent incidents (schedule.failed, schedule.overdue, schedule.repaired, queue.*), newest first',
    scope: 'read',
    query: alertsQuery,
    responses: { 200: { description: 'Incidents; open ones have recoveredAt null', schema: z.object({ incidents: z.array(incident) }) } },
    async handle({ query }, { service }) {
      return { status: 200, body: { incidents: await service.alerts.list({ limit: query.limit }) } };
    },
  }),
];
