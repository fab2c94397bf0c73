import type { Logger } from '../logger.js';

/** One mutating action, as written to the audit log. */
export interface AuditRecord {
  /** Who: a board user name, `api-token`, or `anonymous`. */
  actor: string;
  /** What, e.g. `job.enqueue`, `board.retry`, `recurring.remove`. */
  action: string;
  /** Which queue / job / schedule, when known. */
  queue?: string;
  job?: string;
  schedule?: string;
  /** Where from (client address) and the outcome. */
  ip?: string;
  result: 'ok' | 'denied' | 'error';
  status?: number;
  detail?: string;
}

/** Structured audit trail: one JSON log line per mutation, tagged `audit: true` for log pipelines. */
export class AuditLog {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger.child({ audit: true });
  }

  record(entry: AuditRecord): void {
    this.#logger.info({ ...entry, at: new Date().toISOString() }, `audit ${entry.action} ${entry.result}`);
  }
}
