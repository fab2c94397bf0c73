import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { EMPTY_CATALOG, JobCatalog } from './jobs/catalog.js';
import type { ContractMap } from './jobs/contract.js';
import { MAX_SHARDS } from './queues/shards.js';
import { GENERATE_HINT, redactUrlValue, weakSecretReason } from './secrets.js';

/** Fault-injection points of the continuation steps (tests only): see src/continuations/crash-points.ts. */
export const CRASH_POINTS = ['register:after-pointer', 'register:after-script', 'release:after-complete', 'release:after-mark', 'release:after-add'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (min: number, max: number) => {
  const allowed = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, allowed)
    .transform(Number)
    .pipe(z.number().int().min(min, allowed).max(max, allowed));
};

/** A comma-separated list (blank entries dropped) of at least one entry, each checked by `entry`. */
function commaList(entry: z.ZodType<string, string>, empty: string) {
  return z
    .string()
    .trim()
    .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
    .pipe(z.array(entry).min(1, empty));
}

const hostPortList = commaList(
  z
    .string()
    // No user info: `pw@host:6379` is a host name to the pattern, and every failed connection
    // would then print the password as the host. Passwords come from REDIS_URL /
    // REDIS_SENTINEL_PASSWORD.
    .refine((e) => !e.includes('@'), 'each entry must be host:port, without user or password (those come from REDIS_URL; REDIS_SENTINEL_PASSWORD for sentinels)')
    .regex(/^[^\s:]+:\d{1,5}$/, 'each entry must be host:port')
    .refine((e) => {
      const port = Number(e.slice(e.lastIndexOf(':') + 1));
      return port >= 1 && port <= 65_535;
    }, 'each port must be from 1 to 65535'),
  'must list at least one host:port',
);

/** What is wrong with a redis:// URL that the pattern let through, or undefined (never echoes the password). */
function redisUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL (the port must be 1-65535; a password with reserved characters must be percent-encoded)';
  }
  try {
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
  } catch {
    return 'has a user or password with a malformed percent-encoding (write % as %25)';
  }
  if (!/^\/?(\d{1,5})?$/.test(parsed.pathname)) return 'must name the database as a number (redis://host:6379/0), or none';
  return undefined;
}

/** The server's own paths: a board mounted on or under one would be shadowed by it. */
const SERVER_PATHS = ['/api', '/metrics', '/healthz', '/schedules'];

/** An address Express's `trust proxy` takes: a name it knows, an IP address, or a subnet (CIDR). */
function isProxyAddress(x: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(x)) return true;
  const [ip = '', bits, ...rest] = x.split('/');
  if (rest.length > 0 || isIP(ip) === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (isIP(ip) === 4 ? 32 : 128);
}

/** Said of a value given as spaces alone (zod's own words named a character count). */
const BLANK = 'must not be empty or blank: give a value, or leave the variable unset for its default';
const optionalSecret = z.string().min(1).optional();

const webhookUrls = commaList(
  z
    .string()
    .regex(/^https?:\/\/[^\s,]+$/, 'each entry must be an http:// or https:// URL')
    // fetch refuses it with an error that quotes the whole URL, which then went to the log and
    // into Redis (the delivery job's failedReason). Credentials (user:password@) are fine:
    // delivery sends them as Basic authentication (src/alerts/delivery.ts).
    .refine((u) => URL.canParse(u), 'each entry must be a valid URL (percent-encode reserved characters)'),
  'must list at least one URL',
);

const fraction = z
  .string()
  .trim()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1, e.g. 0.2')
  .transform(Number);
/** What an API token may do: `read`; `enqueue` (also enqueue, schedule, continue); `admin` (everything). */
export const API_SCOPES = ['read', 'enqueue', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** One named API token. */
export interface ApiTokenSpec {
  readonly name: string;
  readonly scope: ApiScope;
  readonly token: string;
}

const TOKEN_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MIN_TOKEN_LENGTH = 16;
/**
 * A bearer token travels as `Authorization: Bearer <token>`, which ends at whitespace (the server
 * reads one run of non-space characters, src/server/auth.ts): a token holding a space, a tab or a
 * control character (a quoted .env value with a stray space) was accepted and could never log in,
 * and each try counted as a failed login.
 */
const TOKEN_CHARS_RE = /^[^\s\p{Cc}]+$/u;
const TOKEN_CHARS_MESSAGE = 'must not hold spaces, tabs or control characters: an Authorization header cannot carry them (generate one with: openssl rand -base64 24)';

/** `API_TOKENS=name:scope:token,...`; names and tokens unique, tokens at least 16 characters. */
const apiTokens = z
  .string()
  .trim()
  .transform((s, ctx) => {
    const out: ApiTokenSpec[] = [];
    const entries = s.split(',').map((e) => e.trim()).filter(Boolean);
    entries.forEach((entry, i) => {
      const [name = '', scope = '', ...rest] = entry.split(':');
      const token = rest.join(':');
      // Only an entry of the full shape names itself: a bare token (API_TOKEN's format, a missing
      // colon) would otherwise be printed as the entry's "name".
      const shaped = rest.length > 0;
      const where = `entry ${i + 1}${shaped && TOKEN_NAME_RE.test(name) ? ` (${name})` : ''}`;
      if (!shaped) {
        ctx.addIssue({ code: 'custom', message: `${where} is not name:scope:token (its text is not shown: it may be a token)` });
      } else if (!TOKEN_NAME_RE.test(name)) {
        ctx.addIssue({ code: 'custom', message: `${where}: the name must be 1-64 letters, digits, ".", "_" or "-" (format name:scope:token)` });
      } else if (!(API_SCOPES as readonly string[]).includes(scope)) {
        ctx.addIssue({ code: 'custom', message: `${where}: the scope must be one of ${API_SCOPES.join(', ')} (format name:scope:token)` });
      } else if (token.length < MIN_TOKEN_LENGTH) {
        ctx.addIssue({ code: 'custom', message: `${where}: the token must be at least ${MIN_TOKEN_LENGTH} characters (generate one with: openssl rand -base64 24)` });
      } else if (!TOKEN_CHARS_RE.test(token)) {
        ctx.addIssue({ code: 'custom', message: `${where}: the token ${TOKEN_CHARS_MESSAGE}` });
      } else if (out.some((t) => t.name === name)) {
        ctx.addIssue({ code: 'custom', message: `${where}: the name ${name} is used twice; the audit log names callers by it` });
      } else if (out.some((t) => t.token === token)) {
        ctx.addIssue({ code: 'custom', message: `${where}: the same token is given twice; each caller needs its own` });
      } else {
        out.push({ name, scope: scope as ApiScope, token });
      }
    });
    if (out.length === 0 && entries.length === 0) ctx.addIssue({ code: 'custom', message: 'lists no token (format name:scope:token,...)' });
    return out;
  });

/**
 * Every environment variable the center reads, with its default. `.env.example` documents each one.
 * Values arrive as strings; the schema turns them into typed values or explains what is allowed.
 */
const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),

    REDIS_URL: z
      .string()
      .trim()
      .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
      .superRefine((v, ctx) => {
        const problem = redisUrlProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default('redis://127.0.0.1:6379'),
    REDIS_CLUSTER_NODES: hostPortList.optional(),
    REDIS_SENTINELS: hostPortList.optional(),
    REDIS_SENTINEL_MASTER: z.string().trim().min(1, BLANK).optional(),
    REDIS_SENTINEL_PASSWORD: optionalSecret,
    REDIS_COMMAND_TIMEOUT_MS: int(0, 600_000).default(10_000),
    QUEUE_PREFIX: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 letters, digits, "_" or "-"')
      .default('jc'),

    QUEUE_SHARDS: z.string().trim().optional(),

    WORKER_CONCURRENCY: int(1, 1000).default(5),
    WORKER_QUEUES: z.string().trim().default('all'),
    WORKER_LOCK_DURATION_MS: int(200, 3_600_000).default(30_000),
    WORKER_STALLED_INTERVAL_MS: int(100, 3_600_000).default(30_000),
    WORKER_MAX_STALLED_COUNT: int(0, 100).default(1),
    SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
    JOB_LOG_MAX_LINES: int(0, 100_000).default(100),
    CONTINUATION_SWEEP_MS: int(100, 3_600_000).default(5_000),
    TEST_CRASH_AFTER_COMPLETE: z.string().trim().min(1, BLANK).optional(),
    TEST_CRASH_AT: z.enum(CRASH_POINTS).optional(),
    WORKER_METRICS: z.enum(['true', 'false']).default('true'),
    WORKER_TIMINGS_FLUSH_MS: int(100, 3_600_000).default(5_000),

    PRODUCER_ID: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
      .default('default'),

    PRODUCER_RESYNC_MS: int(1000, 86_400_000).default(30_000),

    SCHEDULE_HISTORY_LIMIT: int(1, 10_000).default(100),
    DETECTOR_INTERVAL_MS: int(200, 3_600_000).default(5000),
    ALERT_WEBHOOK_URL: webhookUrls.optional(),
    ALERT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 32)').optional(),
    ALERT_BACKLOG_AGE_S: int(1, 31_536_000).default(300),
    ALERT_FAILURE_RATE: fraction.default(0.5),
    ALERT_NO_WORKERS_S: int(1, 86_400).default(60),
    ALERT_RETRY_ATTEMPTS: int(1, 1000).default(30),
    ALERT_RETRY_DELAY_MS: int(10, 3_600_000).default(1000),
    ALERT_RETRY_MAX_DELAY_MS: int(10, 86_400_000).default(300_000),
    ALERT_TIMEOUT_MS: int(100, 600_000).default(10_000),

    LOCAL_REDIS_PORT: int(1, 65535).default(6379),
    LOCAL_REDIS_DIR: z.string().trim().min(1, BLANK).default('.data/redis'),

    HOST: z.string().trim().min(1, BLANK).default('127.0.0.1'),
    PORT: int(0, 65535).default(3000),
    API_TOKEN: z.string().min(16, 'must be at least 16 characters').regex(TOKEN_CHARS_RE, TOKEN_CHARS_MESSAGE).optional(),
    API_TOKENS: apiTokens.optional(),
    API_BODY_LIMIT: z
      .string()
      .trim()
      .regex(/^\d+(b|kb|mb)$/i, 'must be a size such as 100kb or 1mb')
      .default('100kb'),
    BOARD_USER: optionalSecret,
    BOARD_PASSWORD: optionalSecret,
    BOARD_VIEWER_USER: optionalSecret,
    BOARD_VIEWER_PASSWORD: optionalSecret,
    BOARD_TITLE: z.string().trim().min(1, BLANK).max(100).default('Job Center'),
    BOARD_BASE_PATH: z
      .string()
      .trim()
      .regex(/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/, 'must start with "/" and not end with "/", e.g. /board')
      .refine(
        (v) => !SERVER_PATHS.some((p) => v === p || v.startsWith(`${p}/`)),
        `must not be (or lie under) one of the server's own paths: ${SERVER_PATHS.join(', ')}, which would hide the board`,
      )
      .default('/board'),
    AUTH_MAX_FAILURES: int(1, 10_000).default(10),
    AUTH_WINDOW_MS: int(1000, 86_400_000).default(60_000),
    TRUST_PROXY: z
      .string()
      .trim()
      .refine(
        (v) => /^(true|false|\d{1,2})$/.test(v) || v.split(',').every((x) => isProxyAddress(x.trim())),
        'must be false, true, a number of proxy hops, or a comma list of proxy addresses/subnets (e.g. loopback, 10.0.0.0/8)',
      )
      .default('false'),
    EXPOSE_ERROR_STACKS: z.enum(['true', 'false']).default('false'),
  })
  .superRefine((env, ctx) => {
    if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_MASTER) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_SENTINEL_MASTER'],
        message: 'is required when REDIS_SENTINELS is set (the name of the monitored master)',
      });
    }
    if (env.REDIS_SENTINELS && env.REDIS_CLUSTER_NODES) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message: 'cannot be combined with REDIS_SENTINELS: choose Cluster or Sentinel',
      });
    }
    if (env.ALERT_WEBHOOK_URL && !env.ALERT_WEBHOOK_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['ALERT_WEBHOOK_SECRET'],
        message: 'is required when ALERT_WEBHOOK_URL is set: every alert is signed with it (openssl rand -hex 32)',
      });
    }
    if (env.ALERT_RETRY_MAX_DELAY_MS < env.ALERT_RETRY_DELAY_MS) {
      // Accepted, every retry waited the smaller cap: 30 attempts spent in seconds, not hours.
      ctx.addIssue({
        code: 'custom',
        path: ['ALERT_RETRY_MAX_DELAY_MS'],
        message: `must be at least ALERT_RETRY_DELAY_MS (${env.ALERT_RETRY_DELAY_MS}): it caps the doubling retry delay`,
      });
    }
    if (env.API_TOKEN && env.API_TOKENS?.some((t) => t.name === 'api-token' || t.token === env.API_TOKEN)) {
      ctx.addIssue({
        code: 'custom',
        path: ['API_TOKENS'],
        message: 'reuses the name "api-token" or the token of API_TOKEN (which is the admin token named api-token)',
      });
    }
    const pairs = [
      ['BOARD_USER', 'BOARD_PASSWORD'],
      ['BOARD_VIEWER_USER', 'BOARD_VIEWER_PASSWORD'],
    ] as const;
    for (const [user, pass] of pairs) {
      if (Boolean(env[user]) !== Boolean(env[pass])) {
        ctx.addIssue({
          code: 'custom',
          path: [env[user] ? pass : user],
          message: `must be set together with ${env[user] ? user : pass}`,
        });
      }
      // A name of spaces alone is a typo or a mangled .env, not a login anyone means.
      if (env[user] !== undefined && env[user].trim() === '') ctx.addIssue({ code: 'custom', path: [user], message: 'is blank (only whitespace): set a user name' });
      const password = env[pass];
      if (password === undefined) continue;
      const weak = weakSecretReason(password, env.NODE_ENV, 'password');
      if (weak) ctx.addIssue({ code: 'custom', path: [pass], message: weak });
      else if (env[user] !== undefined && password.toLowerCase() === env[user].toLowerCase()) {
        ctx.addIssue({ code: 'custom', path: [pass], message: `must differ from ${user}; ${GENERATE_HINT}` });
      }
    }
    if (env.API_TOKEN !== undefined) {
      const weak = weakSecretReason(env.API_TOKEN, env.NODE_ENV, 'token');
      if (weak) ctx.addIssue({ code: 'custom', path: ['API_TOKEN'], message: weak });
    }
    if (env.ALERT_WEBHOOK_SECRET !== undefined) {
      // The HMAC key receivers trust alerts by: a guessable one lets anyone forge signed alerts.
      const weak = weakSecretReason(env.ALERT_WEBHOOK_SECRET, env.NODE_ENV, 'token');
      if (weak) ctx.addIssue({ code: 'custom', path: ['ALERT_WEBHOOK_SECRET'], message: weak });
    }
    for (const t of env.API_TOKENS ?? []) {
      // Same rules as API_TOKEN and the board passwords (src/secrets.ts); the token is never echoed.
      const weak = weakSecretReason(t.token, env.NODE_ENV, 'token');
      if (weak) ctx.addIssue({ code: 'custom', path: ['API_TOKENS'], message: `the token of ${t.name} ${weak}` });
    }
    // Queue names in QUEUE_SHARDS and WORKER_QUEUES are checked against the catalog in loadConfig.
    if (env.QUEUE_SHARDS !== undefined) parseShards(env.QUEUE_SHARDS, undefined, (message) => ctx.addIssue({ code: 'custom', path: ['QUEUE_SHARDS'], message }));
  });

/**
 * `QUEUE_SHARDS=batch:6,default:2`: shards per queue, overriding what the contracts declare.
 * Reports each bad entry through `issue` (what is wrong and what is allowed).
 */
function parseShards(value: string, queueNames: readonly string[] | undefined, issue: (message: string) => void): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^:\s]+):(\d+)$/.exec(entry);
    if (!m) {
      issue(`has entry "${entry}"; expected queue:count entries separated by commas, e.g. batch:6,default:2`);
      continue;
    }
    const [, queue, count] = m as unknown as [string, string, string];
    const k = Number(count);
    if (queueNames && !queueNames.includes(queue)) issue(`names unknown queue "${queue}"; allowed: ${queueNames.join(', ') || '(none: no job catalog)'}`);
    else if (out[queue] !== undefined) issue(`names queue "${queue}" twice`);
    else if (k < 1 || k > MAX_SHARDS) issue(`gives "${queue}" ${count} shards; allowed: 1 to ${MAX_SHARDS}`);
    else out[queue] = k;
  }
  return out;
}

type Env = z.output<typeof envSchema>;

/** The validated, frozen configuration of one process. */
export interface Config {
  readonly env: Env['NODE_ENV'];
  /** The job types this process knows (`loadConfig`'s `contracts`). */
  readonly catalog: JobCatalog;
  readonly log: { readonly level: Env['LOG_LEVEL']; readonly format: Env['LOG_FORMAT'] };
  readonly redis: {
    readonly url: string;
    readonly clusterNodes?: readonly string[];
    readonly sentinels?: readonly string[];
    readonly sentinelMaster?: string;
    /** Password of the sentinels themselves (the data nodes' password comes from REDIS_URL). */
    readonly sentinelPassword?: string;
    /**
     * How long a command of a fail-fast connection (enqueue, operations, the board's reads) waits
     * for its answer, in ms; 0: forever. A Redis that is frozen or cut off by a partition keeps its
     * TCP connection open and answers nothing: without it, such calls hung. @defaultValue 10 000
     */
    readonly commandTimeoutMs: number;
  };
  readonly prefix: string;
  /**
   * Shards (BullMQ queues, each in its own Cluster slot) per queue: the contracts' `shards`, with
   * `QUEUE_SHARDS` on top; 1 for every queue by default.
   */
  readonly shards: Readonly<Record<string, number>>;
  /** Where `npm start` looks for, or starts, a local Redis when REDIS_URL is unset. */
  readonly localRedis: { readonly port: number; readonly dir: string; readonly urlGiven: boolean };
  readonly worker: {
    readonly concurrency: number;
    readonly queues: readonly string[];
    readonly lockDurationMs: number;
    readonly stalledIntervalMs: number;
    readonly maxStalledCount: number;
    readonly shutdownTimeoutMs: number;
    readonly continuationSweepMs: number;
    /** Lines of a handler's `ctx.log` copied to the job's log (board Logs tab) per run; 0 = none. */
    readonly jobLogMaxLines: number;
    /** Fault-injection for tests only: SIGKILL self right after a job of this name completes. */
    readonly crashAfterComplete?: string;
    /**
     * BullMQ's per-minute completed/failed counters (the board's charts, /metrics totals). They
     * cost two Redis commands inside every job's finishing script. @defaultValue true
     */
    readonly metrics: boolean;
    /**
     * How often a worker adds its job duration and wait counts to Redis (the /metrics
     * histograms); a SIGKILLed worker loses at most this much of them. @defaultValue 5000
     */
    readonly timingsFlushMs: number;
  };
  /** Fault-injection for tests only (`TEST_CRASH_AT`): SIGKILL self at this continuation step. */
  readonly testCrashAt?: CrashPoint;
  readonly producerId: string;
  readonly producerResyncMs: number;
  /** Runs kept per schedule. */
  readonly scheduleHistoryLimit: number;
  /** Schedule/queue health detection and alerting (one active detector per Redis, by lease). */
  readonly alerts: {
    readonly detectorIntervalMs: number;
    readonly webhookUrls: readonly string[];
    readonly webhookSecret?: string;
    readonly backlogAgeS: number;
    readonly failureRate: number;
    readonly noWorkersS: number;
    readonly retryAttempts: number;
    readonly retryDelayMs: number;
    readonly retryMaxDelayMs: number;
    readonly timeoutMs: number;
  };
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** The single admin token of API_TOKEN (named `api-token`), kept for compatibility; also in apiTokens. */
    readonly apiToken?: string;
    /** Every API token: API_TOKEN (as `api-token`, admin) and those of API_TOKENS. */
    readonly apiTokens: readonly ApiTokenSpec[];
    readonly bodyLimit: string;
    readonly board: {
      readonly title: string;
      readonly basePath: string;
      readonly admin?: { readonly user: string; readonly password: string };
      readonly viewer?: { readonly user: string; readonly password: string };
    };
    readonly authMaxFailures: number;
    readonly authWindowMs: number;
    /** express `trust proxy`: whose X-Forwarded-For to believe for the client address (login limit, audit). */
    readonly trustProxy: boolean | number | string;
    /** EXPOSE_ERROR_STACKS: stack traces (absolute paths) in the board's error answers; off unless asked for. */
    readonly exposeErrorStacks: boolean;
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses the environment into a {@link Config}. Empty strings count as unset, so `FOO=` in a `.env`
 * file falls back to the default.
 * @throws ConfigError naming each bad variable, its value and what is allowed.
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  const catalog = options.contracts ? new JobCatalog(options.contracts) : EMPTY_CATALOG;
  const raw: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = source[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      // Webhook URLs (Slack's, for one) carry their own token.
      // A host list with `@` holds user info pasted where it does not belong.
      const secret = /PASSWORD|TOKEN|SECRET|WEBHOOK_URL/.test(name) || (/^REDIS_(SENTINELS|CLUSTER_NODES)$/.test(name) && raw[name]?.includes('@') === true);
      // Any other value may be a URL with a password in it (REDIS_URL): never echo the password.
      const value = raw[name] === undefined ? '(unset)' : secret ? '(hidden)' : JSON.stringify(redactUrlValue(raw[name]));
      return { field: name, message: `${name}=${value} ${issue.message}` };
    });
    throw new ConfigError(details);
  }
  const e = parsed.data;
  // Queue names are checked against the catalog; a process given none (the `npm start`
  // supervisor, a CLI without JOB_CATALOG) leaves that to the processes that have one.
  const queueNames = options.contracts ? catalog.queueNames : undefined;
  const queueIssues: string[][] = [];
  const shardOverrides = e.QUEUE_SHARDS ? parseShards(e.QUEUE_SHARDS, queueNames, (m) => queueIssues.push(['QUEUE_SHARDS', m])) : {};
  if (queueNames && e.WORKER_QUEUES !== 'all') {
    for (const q of e.WORKER_QUEUES.split(',').map((x) => x.trim())) {
      if (!queueNames.includes(q)) {
        queueIssues.push(['WORKER_QUEUES', `names unknown queue "${q}"; allowed: "all" or a comma list of ${queueNames.join(', ') || '(none: no job catalog)'}`]);
      }
    }
  }
  if (queueIssues.length > 0) {
    throw new ConfigError(queueIssues.map(([name, message]) => ({ field: name!, message: `${name}=${JSON.stringify(raw[name!])} ${message}` })));
  }
  const settings = deepFreeze({
    env: e.NODE_ENV,
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    redis: {
      url: e.REDIS_URL,
      clusterNodes: e.REDIS_CLUSTER_NODES,
      sentinels: e.REDIS_SENTINELS,
      sentinelMaster: e.REDIS_SENTINEL_MASTER,
      sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    prefix: e.QUEUE_PREFIX,
    shards: { ...catalog.shards, ...shardOverrides },
    localRedis: {
      port: e.LOCAL_REDIS_PORT,
      dir: e.LOCAL_REDIS_DIR,
      urlGiven: raw.REDIS_URL !== undefined || Boolean(e.REDIS_CLUSTER_NODES || e.REDIS_SENTINELS),
    },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      queues:
        e.WORKER_QUEUES === 'all' ? [...catalog.queueNames] : [...new Set(e.WORKER_QUEUES.split(',').map((s) => s.trim()))],
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: e.WORKER_MAX_STALLED_COUNT,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      continuationSweepMs: e.CONTINUATION_SWEEP_MS,
      jobLogMaxLines: e.JOB_LOG_MAX_LINES,
      crashAfterComplete: e.TEST_CRASH_AFTER_COMPLETE,
      metrics: e.WORKER_METRICS === 'true',
      timingsFlushMs: e.WORKER_TIMINGS_FLUSH_MS,
    },
    testCrashAt: e.TEST_CRASH_AT,
    producerId: e.PRODUCER_ID,
    producerResyncMs: e.PRODUCER_RESYNC_MS,
    scheduleHistoryLimit: e.SCHEDULE_HISTORY_LIMIT,
    alerts: {
      detectorIntervalMs: e.DETECTOR_INTERVAL_MS,
      webhookUrls: e.ALERT_WEBHOOK_URL ?? [],
      webhookSecret: e.ALERT_WEBHOOK_SECRET,
      backlogAgeS: e.ALERT_BACKLOG_AGE_S,
      failureRate: e.ALERT_FAILURE_RATE,
      noWorkersS: e.ALERT_NO_WORKERS_S,
      retryAttempts: e.ALERT_RETRY_ATTEMPTS,
      retryDelayMs: e.ALERT_RETRY_DELAY_MS,
      retryMaxDelayMs: e.ALERT_RETRY_MAX_DELAY_MS,
      timeoutMs: e.ALERT_TIMEOUT_MS,
    },
    server: {
      host: e.HOST,
      port: e.PORT,
      apiToken: e.API_TOKEN,
      apiTokens: [...(e.API_TOKEN ? [{ name: 'api-token', scope: 'admin' as const, token: e.API_TOKEN }] : []), ...(e.API_TOKENS ?? [])],
      bodyLimit: e.API_BODY_LIMIT,
      board: {
        title: e.BOARD_TITLE,
        basePath: e.BOARD_BASE_PATH,
        admin: e.BOARD_USER && e.BOARD_PASSWORD ? { user: e.BOARD_USER, password: e.BOARD_PASSWORD } : undefined,
        viewer:
          e.BOARD_VIEWER_USER && e.BOARD_VIEWER_PASSWORD
            ? { user: e.BOARD_VIEWER_USER, password: e.BOARD_VIEWER_PASSWORD }
            : undefined,
      },
      authMaxFailures: e.AUTH_MAX_FAILURES,
      authWindowMs: e.AUTH_WINDOW_MS,
      trustProxy:
        e.TRUST_PROXY === 'true' ? true : e.TRUST_PROXY === 'false' ? false : /^\d+$/.test(e.TRUST_PROXY) ? Number(e.TRUST_PROXY) : e.TRUST_PROXY,
      exposeErrorStacks: e.EXPOSE_ERROR_STACKS === 'true',
    },
  });
  // The catalog holds zod schemas: frozen as a whole, not deeply.
  return Object.freeze({ ...settings, catalog });
}

export interface LoadConfigOptions {
  /**
   * The job catalog of this process (name → contract). Without one the process knows no job type:
   * it can read and manage jobs but not enqueue, and queue names in WORKER_QUEUES/QUEUE_SHARDS are
   * not checked.
   */
  readonly contracts?: ContractMap;
}
