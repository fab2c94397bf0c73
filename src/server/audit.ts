import type { RequestHandler, Response } from 'express';
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

/** Control characters (newlines, ANSI escapes) as visible escapes, so a message stays one line. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Structured audit trail: one JSON log line per mutation, tagged `audit: true` for log pipelines.
 * Written whatever LOG_LEVEL is (`warn`, `error`, even `silent`): a trail that a log level can
 * switch off is no trail.
 */
export class AuditLog {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger.child({ audit: true }, { level: 'info' });
  }

  record(entry: AuditRecord): void {
    // The fields are JSON (escaped); the message is printed as it is by LOG_FORMAT=pretty, and its
    // action may hold a decoded path segment, so a forged line or an ANSI escape must not get in.
    this.#logger.info({ ...entry, at: new Date().toISOString() }, oneLine(`audit ${entry.action} ${entry.result}`));
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

/** Said in the record of a request whose client went away before its answer was sent. */
export const CLIENT_GONE = 'client closed the connection before the answer';

/**
 * Calls `done` once with the status a request was answered with: when the answer is sent, or, when
 * the client went away first, when the handler answers anyway (Node emits no `finish` then): the
 * write may well have been done, and the record must say what it came to, not skip it.
 */
export function whenAnswered(res: Response, done: (status: number, clientGone: boolean) => void): void {
  let called = false;
  const call = (gone: boolean) => {
    if (called) return;
    called = true;
    done(res.statusCode, gone);
  };
  res.once('finish', () => call(false));
  res.once('close', () => {
    if (res.writableFinished) return call(false);
    if (res.writableEnded) return call(true);
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.end = ((...args: unknown[]) => {
      const out = end(...args);
      call(true);
      return out;
    }) as Response['end'];
  });
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
    whenAnswered(res, (status, gone) => {
      const name = (req.body as { name?: unknown } | undefined)?.name;
      const detail = target.action === 'board.job.add' && typeof name === 'string' ? `name=${name}` : target.detail;
      audit.record({
        actor: accountOf(res)?.user ?? 'anonymous',
        ...target,
        ...(detail === undefined && !gone ? {} : { detail: gone ? [detail, CLIENT_GONE].filter(Boolean).join('; ') : detail }),
        ip,
        result: refused ? 'denied' : resultOf(status),
        status,
      });
    });
    if (!refused) return next();
    res.status(404).json(
      errorBody(`No board route ${req.method} ${req.path}: board paths are case-sensitive and have no trailing slash`, [
        { field: 'path', message: 'use the exact path the board itself sends (lower-case, no trailing "/")' },
      ]),
    );
  };
}
