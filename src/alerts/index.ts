import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues.js';
import { startAlertDelivery } from './delivery.js';
import { startDetector, type Detector } from './detector.js';

export type { Alert, AlertType, Incident, Severity } from './alert.js';
export { Incidents } from './incidents.js';
export { signature } from './delivery.js';

/**
 * Schedule and queue watching for a long-running process (server, producer): a detector (active
 * only while it holds the lease) and, when ALERT_WEBHOOK_URL is set, a webhook delivery worker.
 */
export function startAlerting(options: { config: Config; logger: Logger; lifecycle: Lifecycle; queues: Queues }): Detector {
  startAlertDelivery(options);
  return startDetector(options);
}
