import type { AlertType, Incident, Severity } from '../schemas/alerts.js';

export type { AlertType, Incident, Severity };
export { alertType } from '../schemas/alerts.js';

export const SEVERITY: Record<AlertType, Severity> = {
  'schedule.failed': 'error',
  'schedule.overdue': 'critical',
  'schedule.repaired': 'warning',
  'schedule.recovered': 'info',
  'queue.backlog': 'warning',
  'queue.failure_rate': 'error',
  'queue.no_workers': 'critical',
  'queue.recovered': 'info',
};

/**
 * The JSON body POSTed to every `ALERT_WEBHOOK_URL`, signed with `X-JobCenter-Signature`. `id` is
 * stable per incident event: a receiver that gets it twice (a retry after a lost answer) can dedupe.
 */
export interface Alert {
  id: string;
  type: AlertType;
  severity: Severity;
  schedule?: string;
  queue?: string;
  message: string;
  /** When the condition was detected (ISO 8601). */
  at: string;
  details: Record<string, unknown>;
  /** The message for Slack-style incoming webhooks, which display `text`. */
  text: string;
}
