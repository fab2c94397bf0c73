import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import { accountOf } from './auth.js';
import { errorBody } from './http-errors.js';

/** One mutating action, as written to the audit log. */
export interface AuditRecord {
  /** Who: a board user name, `api-token`, or `anonymous`. */
  actor: string;
  /** What, e.g. `job.enqueue`, `board.job.retry`, `recurring.remove`. */
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

/** The outcome of an HTTP status: 2xx/3xx ok, refusals denied, anything else an error. */
export function resultOf(status: number): AuditRecord['result'] {
  if (status < 400) return 'ok';
  if (status === 401 || status === 403 || status === 405 || status === 429) return 'denied';
  return 'error';
}

type Target = Pick<AuditRecord, 'action' | 'queue' | 'job' | 'schedule' | 'detail'>;

const seg = '([^/]+)';
/*
 * Bull Board's write routes (packages/api/src/routes.ts), in its own order: the first match wins,
 * as in its router (so `/queues/q/retry/failed` is "retry all failed", not job "retry").
 */
const BOARD_ROUTES: [RegExp, (m: string[]) => Target][] = [
  [/^\/queues\/pause$/, () => ({ action: 'board.queues.pause-all' })],
  [/^\/queues\/resume$/, () => ({ action: 'board.queues.resume-all' })],
  [new RegExp(`^/queues/${seg}/add$`), (m) => ({ action: 'board.job.add', queue: m[1] })],
  [
    new RegExp(`^/queues/${seg}/(retry|clean)/${seg}$`),
    (m) => ({ action: `board.queue.${m[2]}-all`, queue: m[1], detail: `status=${m[3]}` }),
  ],
  [
    new RegExp(`^/queues/${seg}/(promote|pause|resume|concurrency|rate-limit|empty|obliterate)$`),
    (m) => ({ action: `board.queue.${m[2] === 'promote' ? 'promote-all' : m[2]}`, queue: m[1] }),
  ],
  [new RegExp(`^/queues/${seg}/rate-limit/release$`), (m) => ({ action: 'board.queue.rate-limit-release', queue: m[1] })],
  [
    new RegExp(`^/queues/${seg}/job-schedulers/${seg}/(remove|run)$`),
    (m) => ({ action: `board.scheduler.${m[3]}`, queue: m[1], schedule: m[2] }),
  ],
  [new RegExp(`^/queues/${seg}/job-schedulers/${seg}$`), (m) => ({ action: 'board.scheduler.update', queue: m[1], schedule: m[2] })],
  [
    new RegExp(`^/queues/${seg}/${seg}/(retry|clean|promote|update-data|delay|priority|remove-unprocessed-children)$`),
    (m) => ({ action: `board.job.${m[3] === 'clean' ? 'remove' : m[3]}`, queue: m[1], job: m[2] }),
  ],
  [/^\/metrics\/history\/purge$/, () => ({ action: 'board.metrics-history.purge' })],
];

/** A URL path segment decoded, or as it is when it is not valid percent-encoding. */
export function decodeSegment(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Names a board request: `method` and `path` relative to the board's base path, e.g.
 * `PUT /api/queues/default/42/retry` → `{ action: 'board.job.retry', queue: 'default', job: '42' }`.
 */
export function boardAction(method: string, path: string): Target {
  const api = path.startsWith('/api/') ? path.slice(4) : undefined;
  if (api !== undefined) {
    for (const [re, build] of BOARD_ROUTES) {
      const m = re.exec(api);
      if (!m) continue;
      const t = build(m.map((x) => decodeSegment(x) ?? ''));
      return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as Target;
    }
  }
  return { action: `board.${method.toLowerCase()}`, detail: path };
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Records every non-read request to the board once its response is sent (or the client went
 * away): who, what, which queue/job/schedule, status. Mounted before authentication, so refused
 * attempts (401/403/429) are on record as `denied` too.
 */
export function auditBoardMutations(audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    if (READS.has(req.method)) return next();
    let target = boardAction(req.method, req.path);
    let refused = false;
    const unknown = `board.${req.method.toLowerCase()}`;
    if (target.action === unknown) {
      // Bull Board's router matches paths case-insensitively and with a trailing slash, so
      // `PUT …/API/QUEUES/q/PAUSE/` would pause the queue while the audit could not name it.
      // Refuse such spellings of a known write route instead of performing an unnamed write.
      const canonical = boardAction(req.method, req.path.toLowerCase().replace(/\/+$/, ''));
      if (canonical.action !== unknown) {
        target = { ...canonical, detail: `refused non-canonical path ${req.path}` };
        refused = true;
      }
    }
    const ip = req.ip;
    let done = false;
    const record = (aborted: boolean) => {
      if (done) return;
      done = true;
      const status = res.statusCode;
      const name = (req.body as { name?: unknown } | undefined)?.name;
      audit.record({
        actor: accountOf(res)?.user ?? 'anonymous',
        ...target,
        ...(target.action === 'board.job.add' && typeof name === 'string' ? { detail: `name=${name}` } : {}),
        ip,
        result: aborted ? 'error' : refused ? 'denied' : resultOf(status),
        status: aborted ? undefined : status,
        ...(aborted ? { detail: 'client closed the connection before the answer' } : {}),
      });
    };
    res.once('finish', () => record(false));
    res.once('close', () => record(!res.writableFinished));
    if (!refused) return next();
    res.status(404).json(
      errorBody(`No board route ${req.method} ${req.path}: board paths are case-sensitive and have no trailing slash`, [
        { field: 'path', message: 'use the exact path the board itself sends (lower-case, no trailing "/")' },
      ]),
    );
  };
}
