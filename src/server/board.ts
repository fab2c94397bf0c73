import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type Express, type NextFunction, type RequestHandler, type Response } from 'express';
import type { Config } from '../config.js';
import { ConfigError, ConflictError, ValidationError, isRedisUnavailable, type FieldIssue } from '../errors.js';
import { checkPayload, type JobContract } from '../jobs/contract.js';
import { jobOptions, validateJobId } from '../jobs/options.js';
import { isQueueKeyName } from '../schemas/fields.js';
import type { ServerDeps } from './app.js';
import { auditBoardMutations, boardAction, decodeSegment } from './audit.js';
import { accountOf, requireBoardLogin, type AuthFailures, type BoardRole } from './auth.js';
import { errorBody } from './http-errors.js';
import { SCHEDULE_PAGE_PATH } from './schedule-page.js';
import { refuseCrossSiteWrites } from './security.js';

/**
 * Refuses configurations that would expose the board or make roles ambiguous. The board is never
 * served without a login, in any environment: `npm start` generates a password for local runs.
 * (A user without a password, or the reverse, is already refused by loadConfig.)
 * @throws ConfigError naming the variables and how to fix them.
 */
export function checkServerConfig(config: Config): void {
  const { admin, viewer } = config.server.board;
  if (!admin) {
    const message =
      config.env === 'production'
        ? 'BOARD_USER and BOARD_PASSWORD are required with NODE_ENV=production: the board is never served ' +
          'without a login. Set both (generate a password with: openssl rand -base64 24)'
        : 'BOARD_USER and BOARD_PASSWORD are not set: the board is never served without a login. Set both in ' +
          '.env, or run `npm start`, which generates a password for local runs and prints it';
    throw new ConfigError([{ field: 'BOARD_PASSWORD', message }]);
  }
  if (viewer && viewer.user === admin.user) {
    throw new ConfigError([
      {
        field: 'BOARD_VIEWER_USER',
        message: `BOARD_VIEWER_USER must differ from BOARD_USER (both are ${JSON.stringify(admin.user)}): the audit log names users`,
      },
    ]);
  }
}

const BADGE_COLORS: Record<Config['env'], string> = {
  production: '#c92a2a',
  development: '#2b8a3e',
  test: '#5c7cfa',
};

/** One Bull Board instance over every declared queue; the viewer's is read-only (buttons hidden, writes 405). */
function createBoard(deps: ServerDeps, role: BoardRole): Express {
  const { config, service } = deps;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(config.server.board.basePath);
  // One adapter per BullMQ queue: a sharded queue shows each of its shards.
  const adapter = (queue: Queue): BullMQAdapter => {
    const { queue: logical, shard, shards } = service.queueShard(queue);
    const names = Object.values(config.catalog.contracts)
      .filter((c) => c.queue === logical)
      .map((c) => c.name);
    const sharded = shards > 1;
    return new BullMQAdapter(queue, {
      readOnlyMode: role === 'viewer',
      description: `Jobs: ${names.join(', ')}${sharded ? ` (shard ${shard} of ${shards} of queue ${logical})` : ''}`,
      ...(sharded ? { displayName: `${logical} · shard ${shard}` } : {}),
    });
  };
  const shown = service.bullQueues();
  const queues = shown.map(adapter);
  const miscLinks = [
    ...(config.server.apiTokens.length > 0 ? [{ text: 'HTTP API docs (OpenAPI)', url: '/api/openapi.json' }] : []),
    { text: 'Schedule health', url: SCHEDULE_PAGE_PATH },
    { text: 'Health (/healthz)', url: '/healthz' },
    { text: 'Prometheus metrics (/metrics)', url: '/metrics' },
  ];
  const bullBoard = createBullBoard({
    queues,
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: config.server.board.title,
        environment: {
          label: role === 'viewer' ? `${config.env} · read-only` : config.env,
          color: BADGE_COLORS[config.env],
          textColor: '#ffffff',
        },
        miscLinks,
        // Every open tab polls every queue: pin Bull Board's default of 5 s so a stored
        // per-browser preference cannot make it hammer Redis.
        pollingInterval: { forceInterval: 5 },
        // Per-minute completed/failed charts (needs the workers' `metrics` option to have data).
        showMetrics: true,
        sortQueues: true,
      },
    },
  });
  // Bull Board's own error handler adds stacks whenever NODE_ENV=development (the value .env.example
  // sets): replace it so absolute paths leave the server only when EXPOSE_ERROR_STACKS=true. The
  // adapter reads its handler at the time of each error, so replacing it after creation works.
  type BoardErrorAnswer = ReturnType<Parameters<ExpressAdapter['setErrorHandler']>[0]>;
  // Redis down is a 503 (retry later), as on /api, not an internal error. Keys are ones the UI
  // translates (its toast shows the key's text as the title; an unknown key showed raw).
  serverAdapter.setErrorHandler((error: Error & { statusCode?: number }) => {
    const unavailable = !error.statusCode && isRedisUnavailable(error);
    return {
      status: (error.statusCode || (unavailable ? 503 : 500)) as BoardErrorAnswer['status'],
      body: {
        error: { key: unavailable ? 'ERRORS.REDIS_UNAVAILABLE' : 'ERRORS.INTERNAL_SERVER_ERROR' },
        message: unavailable ? `Redis is unreachable (${error.message}); retry later` : error.message,
        ...(config.server.exposeErrorStacks ? { details: error.stack } : {}),
      },
    };
  });
  // Shards of a larger K declared earlier are known once the shard history is read: show them too.
  void service
    .shardsLoaded()
    .then(() => {
      for (const queue of service.bullQueues()) if (!shown.includes(queue)) bullBoard.addQueue(adapter(queue));
    })
    .catch(() => {});
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');
  // A sub-app per role: a request of another role leaves it with next('router') and goes on to
  // the next board, so both boards live under the same base path.
  const gate = express();
  gate.disable('x-powered-by');
  gate.use((_req, res, next) => (accountOf(res)?.role === role ? next() : next('router')));
  gate.use(board);
  return gate;
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Bull Board's queue reads of the same shape as its job read `/api/queues/:queue/:jobId`. */
const QUEUE_READS = new Set(['metrics', 'default-job-options', 'workers', 'rate-limit', 'job-data-schema', 'job-schedulers']);

/** The job id a board request acts on or reads: writes as the audit names them, reads (a job, its logs or flow) here. */
function boardJobId(method: string, path: string): string | undefined {
  if (!READS.has(method)) return boardAction(method, path).job;
  const m = /^\/api\/queues\/[^/]+\/([^/]+)(\/logs|\/flow)?$/.exec(path);
  return m && (m[2] !== undefined || !QUEUE_READS.has(m[1]!)) ? decodeSegment(m[1]) : undefined;
}

/**
 * A job id that names one of the queue's own keys (`meta`, `wait`, …) is no job: Bull Board would
 * read that key as one, and its remove would delete the queue's `meta` fields (un-pausing a paused
 * queue) or answer 500 WRONGTYPE. The API refuses these ids; so does the board: 404.
 */
const refuseQueueKeyIds: RequestHandler = (req, res, next) => {
  const id = boardJobId(req.method, req.path);
  if (id === undefined || !isQueueKeyName(id)) return next();
  res.status(404).json(errorBody(`No job ${JSON.stringify(id)}: it names one of the queue's own keys, which no job can have as its id`));
};

/**
 * The viewer's read-only promise, enforced on the server whatever the UI shows: any write gets 403.
 * (Bull Board's readOnlyMode answers most writes with 405 but silently accepts pause-all.)
 */
const refuseViewerWrites: RequestHandler = (req, res, next) => {
  if (accountOf(res)?.role !== 'viewer' || READS.has(req.method)) return next();
  res.status(403).json(
    errorBody('The viewer account is read-only', [
      { field: 'Authorization', message: 'log in with BOARD_USER to retry, remove, pause or trigger' },
    ]),
  );
};

/** How long a board API request waits for a Redis connection that is not ready (a start, a reconnect). */
const BOARD_CONNECT_WAIT_MS = 2000;

/**
 * Bull Board's API while Redis is not connected: 503 within BOARD_CONNECT_WAIT_MS, as /api
 * answers. BullMQ waits for its connection's 'ready' before any command, so against a Redis that
 * refuses the password (or was never up) every board request hung until the browser gave up. The
 * page itself still loads, and shows the error.
 */
function refuseWhileRedisDown(deps: ServerDeps): RequestHandler {
  return (req, res, next) => {
    if (deps.service.connectionStatus === 'ready' || !req.path.startsWith('/api/')) return next();
    deps.service.ready(BOARD_CONNECT_WAIT_MS).then(
      () => next(),
      () =>
        res.status(503).json({
          error: { key: 'ERRORS.REDIS_UNAVAILABLE' },
          message: `Redis is unreachable (connection ${deps.service.connectionStatus}); retry later`,
        }),
    );
  };
}

/**
 * Mounts Bull Board for every declared queue at BOARD_BASE_PATH: audit of every write, refusal of
 * cross-site writes, the failed login limit, basic auth, then the admin's board or the viewer's
 * read-only one.
 */
export function mountBoard(app: Express, deps: ServerDeps, failures: AuthFailures): void {
  const { config } = deps;
  if (!config.server.board.admin) return;
  const boards = [createBoard(deps, 'admin'), ...(config.server.board.viewer ? [createBoard(deps, 'viewer')] : [])];
  app.use(
    config.server.board.basePath,
    auditBoardMutations(deps.audit),
    // Before the login: a forged request is refused whatever credentials the browser attached.
    refuseCrossSiteWrites,
    ...requireBoardLogin(config, failures),
    refuseViewerWrites,
    refuseQueueKeyIds,
    refuseWhileRedisDown(deps),
    addsByContract(deps),
    dataEditsByContract(deps),
    schedulersThroughTheCenter(deps),
    ...boards,
  );
}

/** The body parser of the board's writes the center checks (a job's data and options). */
const boardJson = express.json({ limit: '1mb' });

/**
 * Runs the center's `check` of a board write. @returns true when it refused the write: a
 * ValidationError was answered as a 400 naming its fields (any other error went to `next`).
 */
function refusedAs400(res: Response, next: NextFunction, check: () => void): boolean {
  try {
    check();
    return false;
  } catch (error) {
    if (error instanceof ValidationError) res.status(400).json(errorBody(error.message, [...error.details]));
    else next(error);
    return true;
  }
}

/**
 * Bull Board's "edit data" replaces a job's data with whatever JSON its form holds: data the job's
 * contract refuses was stored (200), and the job failed at its next run or retry. Checked here as
 * the center checks a payload (400 naming the field), before anything is written.
 */
function dataEditsByContract(deps: ServerDeps): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'PATCH') return next();
    const { action, queue: queueName, job: jobId } = boardAction(req.method, req.path);
    const queue = deps.service.bullQueues().find((q) => q.name === queueName);
    // An unknown queue or job is Bull Board's own 404.
    if (action !== 'board.job.update-data' || !queue || jobId === undefined) return next();
    boardJson(req, res, (err?: unknown) => {
      if (err) return next(err);
      queue.getJob(jobId).then(
        (job) => {
          if (!job) return next();
          const data = (req.body as { jobData?: unknown } | undefined)?.jobData;
          if (!refusedAs400(res, next, () => checkPayload(deps.config.catalog.contractFor(job.name), data))) next();
        },
        (error: unknown) => next(error),
      );
    });
  };
}

/**
 * Options of the board's "add job" that would make something other than one job of the center:
 * `repeat` a BullMQ repeatable job or scheduler beside the center's schedules (their definitions,
 * history and alerts), `parent` a child of another job's flow. "Duplicate" of a scheduled run
 * fills in `repeat` and `repeatJobKey`. @throws ValidationError naming the option.
 */
function checkBoardAddOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) return;
  const o = options as Record<string, unknown>;
  const refused: FieldIssue[] = [];
  for (const key of ['repeat', 'repeatJobKey'] as const) {
    if (o[key] !== undefined) {
      refused.push({ field: `options.${key}`, message: `remove ${key}: schedules are made with PUT /api/recurring/<id>, the CLI or a producer` });
    }
  }
  if (o.parent !== undefined) refused.push({ field: 'options.parent', message: 'remove parent: continue a job with after (POST /api/jobs) instead' });
  if (refused.length > 0) {
    throw new ValidationError(
      `The board adds one job: ${refused.map((r) => r.field).join(', ')} would make it a schedule or part of a flow outside the center (to run a scheduled job once more, remove repeat and repeatJobKey)`,
      refused,
    );
  }
}

/**
 * Bull Board's "add job" adds to the BullMQ queue directly: a name the queue has no contract for, or
 * a payload its contract refuses, was added (200, "added") and failed at once in the worker, and
 * every job added so lacked its contract's attempts, backoff and retention (kept forever). Here the
 * name and payload are checked as the center checks them (400 otherwise), and the contract's
 * defaults fill in the options the form left out.
 */
function addsByContract(deps: ServerDeps): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    const { action, queue: queueName } = boardAction(req.method, req.path);
    const queue = deps.service.bullQueues().find((q) => q.name === queueName);
    // An unknown queue is Bull Board's own 404.
    if (action !== 'board.job.add' || !queue) return next();
    boardJson(req, res, (err?: unknown) => {
      if (err) return next(err);
      const body = (req.body ?? {}) as { name?: unknown; data?: unknown; options?: unknown };
      const logical = deps.service.queueShard(queue).queue;
      const { catalog } = deps.config;
      let contract!: JobContract;
      const refused = refusedAs400(res, next, () => {
        // The catalog's own checks, as client.enqueue makes them (their field details kept).
        contract = catalog.contractFor(body.name);
        if (contract.queue !== logical) {
          const known = Object.values(catalog.contracts).filter((c) => c.queue === logical).map((c) => c.name);
          throw new ValidationError(`No job ${JSON.stringify(contract.name)} in queue ${JSON.stringify(logical)}; its jobs: ${known.join(', ') || '(none)'}`, [
            { field: 'name', message: 'use a job name of this queue' },
          ]);
        }
        checkPayload(contract, body.data ?? {});
        // The form's jobId goes to BullMQ as the job's key (`<prefix>:<queue>:<jobId>`): unchecked,
        // `wait` wrote the job's hash onto the queue's wait list and every later add of the queue
        // failed WRONGTYPE (500), `cont-…` posed as a continuation. The API's rule, as the API checks it.
        const jobId = (body.options as { jobId?: unknown } | undefined)?.jobId;
        if (jobId !== undefined && jobId !== null && jobId !== '') validateJobId(jobId, 'options.jobId');
        checkBoardAddOptions(body.options);
      });
      if (refused) return;
      const given = typeof body.options === 'object' && body.options !== null && !Array.isArray(body.options) ? body.options : {};
      const id = (given as { jobId?: unknown }).jobId;
      // "Duplicate" fills the form with the job's own options, its id included (every job the center
      // adds has one: its idempotency key). BullMQ then adds nothing and answers with the job that
      // stands, so the board said "added" and no copy ever ran.
      const existing = typeof id === 'string' && id !== '' ? queue.getJob(id) : Promise.resolve(undefined);
      existing.then(
        (job) => {
          if (job) {
            return next(
              new ConflictError(
                `Job ${JSON.stringify(id)} exists in ${queue.name}: a job id is an idempotency key, so adding it again adds nothing. ` +
                  'To duplicate the job, remove jobId from the options (a new id is given)',
              ),
            );
          }
          req.body = { ...body, options: { ...jobOptions(contract), ...given } };
          next();
        },
        (error: unknown) => next(error),
      );
    });
  };
}

/** Bull Board's edit sends endDate as epoch ms (a number or a numeric string); the center takes ISO 8601. */
function boardEndDate(value: unknown): string {
  const ms = typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value.trim())) ? Number(value) : Number.NaN;
  return Number.isFinite(ms) && !Number.isNaN(new Date(ms).getTime()) ? new Date(ms).toISOString() : String(value);
}

/**
 * Bull Board's job scheduler remove and edit, done by the center: `recurring.remove` (the
 * definition the center keeps goes too) and `recurring.reschedule` (PATCH `{ pattern | every, tz,
 * limit, endDate }`: new timing, same job and options). Done by BullMQ alone, the detector
 * re-created a removed schedule as lost, and a pause and resume brought an edit's old timing back.
 */
function schedulersThroughTheCenter(deps: ServerDeps): RequestHandler {
  const json = express.json({ limit: '10kb' });
  const given = <T>(v: unknown): T | undefined => (v === undefined || v === null || v === '' ? undefined : (v as T));
  /**
   * The scheduler must be on the queue the request names, as Bull Board itself checks: the center
   * acts by schedule id alone, so a remove or edit sent to another queue or shard (or to a queue the
   * board does not have) acted on the schedule wherever it was. 404 with Bull Board's error keys.
   */
  const onNamedQueue = async (queueName: string | undefined, schedule: string): Promise<string | undefined> => {
    const queue = deps.service.bullQueues().find((q) => q.name === queueName);
    if (!queue) return 'ERRORS.QUEUE_NOT_FOUND';
    return (await queue.getJobScheduler(schedule)) ? undefined : 'ERRORS.JOB_SCHEDULER_NOT_FOUND';
  };
  const handle: RequestHandler = (req, res, next) => {
    const { action, schedule } = boardAction(req.method, req.path);
    const done = [() => res.status(204).end(), (err: unknown) => next(err)] as const;
    if (req.method === 'PUT' && action === 'board.scheduler.remove' && schedule !== undefined) {
      void deps.service.recurring.remove(schedule).then(...done);
    } else if (req.method === 'PATCH' && action === 'board.scheduler.update' && schedule !== undefined) {
      json(req, res, (err?: unknown) => {
        if (err) return next(err);
        // An array's `every` is Array.prototype.every: read fields of plain objects only.
        if (req.body !== undefined && (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))) {
          res.status(400).json(errorBody('The scheduler update must be a JSON object', [{ field: 'body', message: 'send { pattern | every, tz, limit, endDate }' }]));
          return;
        }
        const body = (req.body ?? {}) as { pattern?: unknown; every?: unknown; tz?: unknown; limit?: unknown; endDate?: unknown };
        const pattern = given<string>(body.pattern);
        void deps.service.recurring
          .reschedule(schedule, {
            ...(pattern !== undefined ? { cron: String(pattern).trim() } : { every: given<number>(body.every) }),
            ...(given(body.tz) !== undefined ? { tz: String(body.tz).trim() } : {}),
            ...(given(body.limit) !== undefined ? { limit: given<number>(body.limit) } : {}),
            ...(given(body.endDate) !== undefined ? { endDate: boardEndDate(body.endDate) } : {}),
          })
          .then(...done);
      });
    } else {
      next();
    }
  };
  return (req, res, next) => {
    const { action, queue, schedule } = boardAction(req.method, req.path);
    const ours = (req.method === 'PUT' && action === 'board.scheduler.remove') || (req.method === 'PATCH' && action === 'board.scheduler.update');
    if (!ours || schedule === undefined) return next();
    onNamedQueue(queue, schedule).then(
      (missing) => (missing ? void res.status(404).json({ error: { key: missing } }) : handle(req, res, next)),
      (err: unknown) => next(err),
    );
  };
}
