import { readFileSync } from 'node:fs';
import { text as streamText } from 'node:stream/consumers';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { z } from 'zod';
import { JobCenterClient, type CleanRequest, type ContinueOn, type EnqueueOptions, type JobListQuery, type Repeat } from '../client.js';
import { loadConfig, type Config } from '../config.js';
import { checkPayload, type ContractMap } from '../jobs/contract.js';
import { ConfigError, NotFoundError, UnavailableError, ValidationError, type FieldIssue } from '../errors.js';
import { bulkItem, type BulkItem } from '../schemas/enqueue.js';
import { fieldIssues } from '../schemas/parse.js';
import type { MisfirePolicy } from '../schemas/schedule-semantics.js';
import { redactUrlValue } from '../secrets.js';
import { COMMAND_USAGE, MAIN_USAGE } from './usage.js';

/*
 * `job-center <command>` (`npm run cli -- <command>` here): the typed client on the command line.
 * Results are JSON on stdout (`--json` says so explicitly), errors a message on stderr; exit codes:
 * 0 done, 1 failed (configuration, not found, Redis unreachable), 2 bad usage or input.
 */

class UsageError extends Error {}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  json: { type: 'boolean' },
  data: { type: 'string' },
  'job-id': { type: 'string' },
  priority: { type: 'string' },
  attempts: { type: 'string' },
  'shard-key': { type: 'string' },
  delay: { type: 'string' },
  at: { type: 'string' },
  after: { type: 'string' },
  on: { type: 'string' },
  cron: { type: 'string' },
  tz: { type: 'string' },
  every: { type: 'string' },
  overlap: { type: 'string' },
  'dst-gap': { type: 'string' },
  misfire: { type: 'string' },
  'max-catch-up': { type: 'string' },
  then: { type: 'string' },
  'then-data': { type: 'string' },
  'then-on': { type: 'string' },
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  'dst-overlap': { type: 'string' },
  grace: { type: 'string' },
  limit: { type: 'string' },
  timeout: { type: 'string' },
  'dedupe-key': { type: 'string' },
  'dedupe-ttl': { type: 'string' },
  'dedupe-mode': { type: 'string' },
  queue: { type: 'string' },
  state: { type: 'string' },
  name: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  cursor: { type: 'string' },
  start: { type: 'string' },
  'older-than': { type: 'string' },
  file: { type: 'string' },
} as const;

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** Options each command accepts besides --help and --timeout. */
const ALLOWED: Record<string, (keyof typeof OPTIONS)[]> = {
  enqueue: ['data', 'job-id', 'priority', 'attempts', 'dedupe-key', 'dedupe-ttl', 'dedupe-mode', 'file', 'shard-key'],
  schedule: ['data', 'job-id', 'delay', 'at', 'priority', 'attempts', 'dedupe-key', 'dedupe-ttl', 'dedupe-mode', 'shard-key'],
  'job list': ['queue', 'state', 'name', 'from', 'to', 'limit', 'cursor'],
  'job logs': ['start', 'limit'],
  'queue clean': ['state', 'older-than', 'limit'],
  'queue retry-failed': ['name'],
  continue: ['data', 'job-id', 'after', 'on'],
  'recurring upsert': [
    'data',
    'cron',
    'tz',
    'every',
    'overlap',
    'grace',
    'dst-gap',
    'dst-overlap',
    'misfire',
    'max-catch-up',
    'then',
    'then-data',
    'then-on',
    'start-date',
    'end-date',
    'limit',
  ],
  'recurring runs': ['limit'],
  alerts: ['limit'],
};

function fail(message: string): never {
  throw new UsageError(message);
}

/** `5000`, `250ms`, `30s`, `10m`, `2h`, `1d` → milliseconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) fail(`--${option} must be a duration such as 5000 (ms), 30s, 10m, 2h or 1d, got ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

function parseInteger(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) fail(`--${option} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

function parseData(text: string | undefined): unknown {
  if (text === undefined) return {};
  let source = text;
  if (text === '-') source = readFileSync(0, 'utf8');
  else if (text.startsWith('@')) {
    try {
      source = readFileSync(text.slice(1), 'utf8');
    } catch (err) {
      fail(`--data ${text}: cannot read the file (${(err as Error).message})`);
    }
  }
  try {
    return JSON.parse(source);
  } catch (err) {
    throw new ValidationError(`--data must be JSON: ${(err as Error).message}`, [{ field: 'data', message: 'data must be valid JSON' }]);
  }
}

function dedupeOf(v: Values): EnqueueOptions['dedupe'] {
  if (v['dedupe-key'] === undefined) {
    if (v['dedupe-ttl'] !== undefined || v['dedupe-mode'] !== undefined) fail('--dedupe-ttl and --dedupe-mode need --dedupe-key');
    return undefined;
  }
  return {
    key: v['dedupe-key'],
    ...(v['dedupe-ttl'] !== undefined ? { ttlMs: parseDuration(v['dedupe-ttl'], 'dedupe-ttl') } : {}),
    ...(v['dedupe-mode'] !== undefined ? { mode: v['dedupe-mode'] as 'drop' | 'replace' } : {}),
  };
}

function cliUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function parseRef(text: string, what: string): { queue: string; id: string } {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) fail(`${what} must be QUEUE/ID, e.g. batch/42, got ${JSON.stringify(text)}`);
  return { queue: text.slice(0, slash), id: text.slice(slash + 1) };
}

function arity(positionals: string[], n: number, usage: string): void {
  if (positionals.length < n) fail(`Missing arguments. ${usage}`);
  if (positionals.length > n) fail(`Unexpected argument ${JSON.stringify(positionals[n])}. ${usage}`);
}

type Command = (client: JobCenterClient, args: string[], v: Values) => Promise<unknown>;

/**
 * `enqueue --file FILE` (or `-` for stdin): one job per line, `{"name": …, "data": …, "jobId"?, "delay"?,
 * "runAt"?, "priority"?, "attempts"?}`. All lines are checked before anything is written (one bad
 * line, nothing enqueued; each problem names its line), then one `enqueueManyUnchecked`.
 */
async function enqueueFile(client: JobCenterClient, file: string): Promise<unknown> {
  let text: string;
  try {
    // stdin is read without blocking: the client connects (and sets up its queues) meanwhile.
    text = file === '-' ? await streamText(process.stdin) : readFileSync(file, 'utf8');
  } catch (err) {
    fail(`--file ${file}: cannot read it (${(err as Error).message})`);
  }
  const items: BulkItem[] = [];
  const lines: number[] = [];
  const issues: FieldIssue[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const at = `line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      issues.push({ field: at, message: `${at}: not JSON (${(err as Error).message})` });
      return;
    }
    const parsed = bulkItem.safeParse(value);
    if (!parsed.success) {
      for (const d of fieldIssues(parsed.error, value)) issues.push({ field: `${at}.${d.field}`, message: `${at}: ${d.message}` });
      return;
    }
    // Name and payload too, so one run lists every bad line (enqueueManyUnchecked checks them again).
    try {
      checkPayload(client.catalog.contractFor(parsed.data.name), parsed.data.data ?? {});
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const d of err.details) issues.push({ field: `${at}.${d.field}`, message: `${at}: ${d.message}` });
      return;
    }
    items.push(parsed.data);
    lines.push(i + 1);
  });
  if (issues.length === 0 && items.length === 0) fail(`--file ${file} has no jobs (one JSON object per line)`);
  if (issues.length > 0) throw new ValidationError(`Invalid jobs file; nothing was enqueued: ${issues.map((d) => d.message).join('; ')}`, issues);
  try {
    const created = await client.enqueueManyUnchecked(
      items.map(({ name, data, runAt, ...opts }) => ({ name, data: data ?? {}, opts: { ...opts, ...(runAt !== undefined ? { at: new Date(runAt) } : {}) } })),
    );
    return { count: created.length, jobs: created };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    // enqueueManyUnchecked names items `jobs.<index>`: name the file's lines instead.
    const toLine = (t: string) => t.replace(/jobs\.(\d+)/g, (_m, n: string) => `line ${lines[Number(n)]}`);
    throw new ValidationError(`Invalid jobs file; nothing was enqueued: ${toLine(err.details.map((d) => d.message).join('; '))}`,
      err.details.map((d) => ({ field: toLine(d.field), message: toLine(d.message) })));
  }
}

const COMMANDS: Record<string, Command> = {
  enqueue: async (client, args, v) => {
    if (v.file !== undefined) {
      // Every per-job option: --shard-key and --dedupe-* were not listed here, and were dropped
      // without a word (the jobs went to any shard, and were not deduplicated).
      const perJob = ['data', 'job-id', 'priority', 'attempts', 'shard-key', 'dedupe-key', 'dedupe-ttl', 'dedupe-mode'] as const;
      const given = perJob.filter((o) => v[o] !== undefined);
      if (given.length > 0) {
        fail(`--file takes every job (and its options) from the file: drop ${given.map((o) => `--${o}`).join(', ')} (per line: "shardKey", "dedupe", "jobId", …)`);
      }
      arity(args, 0, 'Usage: enqueue --file FILE (one JSON job per line; - reads stdin)');
      return enqueueFile(client, v.file);
    }
    arity(args, 1, 'Usage: enqueue <name> [--data JSON]  (or: enqueue --file FILE)');
    return client.add(args[0]!, parseData(v.data), {
      jobId: v['job-id'],
      priority: parseInteger(v.priority, 'priority'),
      attempts: parseInteger(v.attempts, 'attempts'),
      shardKey: v['shard-key'],
      dedupe: dedupeOf(v),
    });
  },
  schedule: async (client, args, v) => {
    arity(args, 1, 'Usage: schedule <name> (--delay DURATION | --at TIME)');
    if ((v.delay === undefined) === (v.at === undefined)) fail('schedule needs exactly one of --delay and --at');
    let at: Date | undefined;
    if (v.at !== undefined) {
      if (!z.iso.datetime({ offset: true }).safeParse(v.at).success) {
        fail(`--at must be an ISO 8601 time with offset, e.g. 2030-01-01T09:00:00Z, got ${JSON.stringify(v.at)}`);
      }
      at = new Date(v.at);
    }
    return client.add(args[0]!, parseData(v.data), {
      jobId: v['job-id'],
      // As client.schedule and POST /api/jobs take them with a delay (this refused them as unknown).
      priority: parseInteger(v.priority, 'priority'),
      attempts: parseInteger(v.attempts, 'attempts'),
      shardKey: v['shard-key'],
      dedupe: dedupeOf(v),
      ...(v.delay !== undefined ? { delay: parseDuration(v.delay, 'delay') } : { at }),
    });
  },
  continue: async (client, args, v) => {
    arity(args, 1, 'Usage: continue <name> --after QUEUE/ID[,QUEUE/ID…] [--on success|finished]');
    if (v.after === undefined) fail('continue needs --after QUEUE/ID (the parent job), or several separated by commas');
    // Job ids have no commas: several parents make a join, run once after all of them.
    const parents = v.after.split(',').map((ref) => parseRef(ref.trim(), '--after'));
    return client.continueWithUnchecked(parents.length === 1 ? parents[0]! : parents, args[0]!, parseData(v.data), {
      on: v.on as 'success' | 'finished' | undefined,
      jobId: v['job-id'],
    });
  },
  'job status': async (client, args) => {
    if (args.length !== 1 && args.length !== 2) fail('Usage: job status <queue>/<id>  (or: job status <queue> <id>)');
    const ref = args.length === 2 ? { queue: args[0]!, id: args[1]! } : parseRef(args[0]!, 'The job');
    const job = await client.getJob(ref);
    if (!job) throw new NotFoundError(`No job ${ref.queue}/${ref.id} (never existed, or removed by retention)`);
    return job;
  },
  'job list': async (client, args, v) => {
    arity(args, 0, 'Usage: job list [--queue Q] [--state S] [--name N] [--from TIME] [--to TIME] [--limit N] [--cursor C]');
    const query = { queue: v.queue, state: v.state, name: v.name, from: v.from, to: v.to, limit: v.limit, cursor: v.cursor };
    // Strings as on a query string: the shared schema checks and converts them.
    return client.listJobs(Object.fromEntries(Object.entries(query).filter(([, x]) => x !== undefined)) as JobListQuery);
  },
  'job logs': async (client, args, v) => {
    arity(args, 1, 'Usage: job logs <queue>/<id> [--start N] [--limit N]');
    return client.jobLogs(parseRef(args[0]!, 'The job'), { start: parseInteger(v.start, 'start'), limit: parseInteger(v.limit, 'limit') });
  },
  'job cancel': async (client, args) => {
    arity(args, 1, 'Usage: job cancel <queue>/<id>');
    return client.cancelJob(parseRef(args[0]!, 'The job'), `cli:${cliUser()}`);
  },
  'job retry': async (client, args) => {
    arity(args, 1, 'Usage: job retry <queue>/<id>');
    return client.retry(parseRef(args[0]!, 'The job'));
  },
  'job promote': async (client, args) => {
    arity(args, 1, 'Usage: job promote <queue>/<id>');
    return client.promoteJob(parseRef(args[0]!, 'The job'));
  },
  'queue list': async (client, args) => {
    arity(args, 0, 'Usage: queue list');
    // The queues are the catalog's: without one an empty list read as "no queues" (a wrong answer
    // at 3 a.m.), so say what is missing.
    if (client.catalog.queueNames.length === 0) {
      throw new ValidationError('queue list shows the queues of the job catalog, and no job catalog was given: set JOB_CATALOG to a module that exports `jobs`', [
        { field: 'JOB_CATALOG', message: 'JOB_CATALOG: required by queue list' },
      ]);
    }
    return client.queueSummaries();
  },
  'queue summary': async (client, args) => {
    arity(args, 1, 'Usage: queue summary <queue>');
    return client.queueSummary(args[0]!);
  },
  'queue pause': async (client, args) => {
    arity(args, 1, 'Usage: queue pause <queue>');
    return client.pauseQueue(args[0]!);
  },
  'queue resume': async (client, args) => {
    arity(args, 1, 'Usage: queue resume <queue>');
    return client.resumeQueue(args[0]!);
  },
  'queue clean': async (client, args, v) => {
    arity(args, 1, 'Usage: queue clean <queue> --state STATE --older-than DURATION [--limit N]');
    if (v['older-than'] === undefined) fail('queue clean needs --older-than DURATION (e.g. 1h; 0 for all)');
    return client.cleanQueue(args[0]!, {
      state: v.state as CleanRequest['state'],
      olderThanMs: parseDuration(v['older-than'], 'older-than'),
      ...(v.limit !== undefined ? { limit: parseInteger(v.limit, 'limit') } : {}),
    });
  },
  'queue retry-failed': async (client, args, v) => {
    arity(args, 1, 'Usage: queue retry-failed <queue> [--name JOB]');
    return client.retryFailed(args[0]!, v.name !== undefined ? { name: v.name } : {});
  },
  'recurring list': async (client, args) => {
    arity(args, 0, 'Usage: recurring list');
    return client.recurring.list();
  },
  'recurring upsert': async (client, args, v) => {
    arity(args, 2, 'Usage: recurring upsert <id> <name> (--cron PATTERN [--tz ZONE] | --every DURATION)');
    if ((v.cron === undefined) === (v.every === undefined)) fail('recurring upsert needs exactly one of --cron and --every');
    // The shared schema checks the rest (tz and dst with cron only, overlap), as for the client and HTTP.
    const dst =
      v['dst-gap'] !== undefined || v['dst-overlap'] !== undefined
        ? {
            dst: {
              ...(v['dst-gap'] !== undefined ? { gap: v['dst-gap'] } : {}),
              ...(v['dst-overlap'] !== undefined ? { overlap: v['dst-overlap'] } : {}),
            },
          }
        : {};
    const window = {
      ...(v['start-date'] !== undefined ? { startDate: v['start-date'] } : {}),
      ...(v['end-date'] !== undefined ? { endDate: v['end-date'] } : {}),
      ...(v.limit !== undefined ? { limit: parseInteger(v.limit, 'limit') } : {}),
    };
    const repeat = (
      v.cron !== undefined
        ? { cron: v.cron, tz: v.tz, ...dst, ...window }
        : { every: parseDuration(v.every!, 'every'), tz: v.tz, ...dst, ...window }
    ) as Repeat;
    if ((v['then-data'] !== undefined || v['then-on'] !== undefined) && v.then === undefined) {
      fail('--then-data and --then-on need --then NAME');
    }
    return client.recurring.upsertUnchecked(args[0]!, repeat, args[1]!, parseData(v.data), {
      overlap: v.overlap as 'allow' | 'skip' | undefined,
      ...(v.grace !== undefined ? { grace: parseDuration(v.grace, 'grace') } : {}),
      ...(v.misfire !== undefined ? { misfire: v.misfire as MisfirePolicy } : {}),
      ...(v['max-catch-up'] !== undefined ? { maxCatchUp: parseInteger(v['max-catch-up'], 'max-catch-up') } : {}),
      ...(v.then !== undefined
        ? {
            then: {
              name: v.then,
              ...(v['then-data'] !== undefined ? { data: parseData(v['then-data']) } : {}),
              ...(v['then-on'] !== undefined ? { on: v['then-on'] as ContinueOn } : {}),
            },
          }
        : {}),
    });
  },
  'recurring get': async (client, args) => {
    arity(args, 1, 'Usage: recurring get <id>');
    const info = await client.recurring.get(args[0]!);
    if (!info) throw new NotFoundError(`No recurring job with id ${JSON.stringify(args[0])}`);
    return info;
  },
  'recurring runs': async (client, args, v) => {
    arity(args, 1, 'Usage: recurring runs <id> [--limit N]');
    const limit = parseInteger(v.limit, 'limit');
    if (limit === 0) fail('--limit must be at least 1');
    return { runs: await client.recurring.runs(args[0]!, { limit }) };
  },
  alerts: async (client, args, v) => {
    arity(args, 0, 'Usage: alerts [--limit N]');
    return { incidents: await client.alerts.list({ limit: parseInteger(v.limit, 'limit') }) };
  },
  'recurring pause': async (client, args) => {
    arity(args, 1, 'Usage: recurring pause <id>');
    return client.recurring.pause(args[0]!);
  },
  'recurring resume': async (client, args) => {
    arity(args, 1, 'Usage: recurring resume <id>');
    return client.recurring.resume(args[0]!);
  },
  'recurring remove': async (client, args) => {
    arity(args, 1, 'Usage: recurring remove <id>');
    if (!(await client.recurring.remove(args[0]!))) throw new NotFoundError(`No recurring job with id ${JSON.stringify(args[0])}`);
    return { id: args[0], removed: true };
  },
  'recurring trigger': async (client, args) => {
    arity(args, 1, 'Usage: recurring trigger <id>');
    return client.recurring.trigger(args[0]!);
  },
};

function jobCatalog(jobs: ContractMap): unknown {
  return Object.values(jobs).map((c) => ({
    name: c.name,
    queue: c.queue,
    description: c.description,
    payload: (({ $schema: _ignored, ...rest }) => rest)(z.toJSONSchema(c.schema, { io: 'input', unrepresentable: 'any' })),
  }));
}

function redactedRedis(config: Config): string {
  if (config.redis.clusterNodes) return `cluster ${config.redis.clusterNodes.join(',')}`;
  if (config.redis.sentinels) return `sentinels ${config.redis.sentinels.join(',')}`;
  // The shared redaction: a URL with a user part alone (`redis://secret@host`, as some clients
  // take a password) is hidden too, as in every other message.
  return redactUrlValue(config.redis.url);
}

/**
 * The client as a command sees it: each of its calls (also `recurring.*` and `alerts.*`) first waits
 * for Redis (`connected`, bounded by --timeout). A command checks its arguments before its first
 * call, so a usage error exits 2 at once, whether Redis is up or not.
 */
function waitingForRedis(client: JobCenterClient, connected: () => Promise<void>): JobCenterClient {
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, key) {
        // No receiver: the client's getters and methods use its private fields, which a proxy lacks.
        const value: unknown = Reflect.get(t, key);
        if (key === 'recurring' || key === 'alerts') return wrap(value as object);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          await connected();
          return (value as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  return wrap(client);
}

export interface RunOptions {
  /** The job types enqueue, schedule, continue and recurring upsert accept. @defaultValue none */
  readonly contracts?: ContractMap;
  /** What `--version` prints. */
  readonly version?: string;
  /**
   * How the user runs the command, as the help texts show it: `npm run cli --` in this repository,
   * `job-center` where the package is installed (no `cli` script exists there). @defaultValue 'job-center'
   */
  readonly invokedAs?: string;
}

/** Runs one CLI invocation; resolves with the exit code. */
export async function run(argv: string[], out: (s: string) => void, err: (s: string) => void, options: RunOptions = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err(`error: ${(e as Error).message}\nRun with --help for usage.\n`);
    return 2;
  }
  const v = parsed.values as Values;
  const positionals = [...parsed.positionals];
  const invokedAs = options.invokedAs ?? 'job-center';
  const usage = (text: string) => text.replaceAll('npm run cli --', invokedAs);
  const first = positionals[0];
  if (v.version) {
    const version = options.version ?? 'unknown';
    out(v.json ? `${JSON.stringify({ name: 'job-center', version })}\n` : `job-center ${version}\n`);
    return 0;
  }
  if (first === undefined || first === 'help' || (v.help && !COMMAND_USAGE[first])) {
    const topic = first === 'help' ? positionals[1] : undefined;
    out(usage(topic && COMMAND_USAGE[topic] ? COMMAND_USAGE[topic] : MAIN_USAGE));
    return first === undefined && !v.help ? 2 : 0;
  }
  if (v.help) {
    out(usage(COMMAND_USAGE[first]!));
    return 0;
  }
  if (first === 'jobs') {
    out(`${JSON.stringify(jobCatalog(options.contracts ?? {}), null, 2)}\n`);
    return 0;
  }
  const grouped = first === 'job' || first === 'recurring' || first === 'queue';
  const name = grouped ? `${first} ${positionals[1] ?? ''}`.trim() : first;
  const command = COMMANDS[name];
  if (!command) {
    const hint = usage(grouped ? COMMAND_USAGE[first]! : MAIN_USAGE);
    err(`error: unknown command ${JSON.stringify(name)}\n\n${hint}`);
    return 2;
  }
  const allowed = new Set<string>(['help', 'timeout', 'json', ...(ALLOWED[name] ?? [])]);
  const extra = Object.keys(v).filter((k) => !allowed.has(k));
  if (extra.length > 0) {
    err(`error: ${name} does not take ${extra.map((k) => `--${k}`).join(', ')}\nRun "${name} --help" for usage.\n`);
    return 2;
  }

  let config: Config;
  try {
    config = loadConfig(process.env, options.contracts ? { contracts: options.contracts } : {});
  } catch (e) {
    if (e instanceof ConfigError) {
      // A bad environment is a failed run (1), as for every other process of the center; 2 is bad usage.
      err(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const logger = pino({ level: process.env.LOG_LEVEL ? config.log.level : 'error', base: { proc: 'cli' } }, pino.destination(2));
  const client = new JobCenterClient(config, logger);
  try {
    const timeout = v.timeout === undefined ? 5000 : (parseInteger(v.timeout, 'timeout') ?? 5000);
    let connecting: Promise<void> | undefined;
    const connected = () =>
      (connecting ??= client.ready(timeout).catch((e: unknown) => {
        // Redis answered, and refused a setting (a database REDIS_URL selects that it does not have).
        if (e instanceof ConfigError) throw e;
        throw new UnavailableError(`Redis at ${redactedRedis(config)} did not answer within ${timeout} ms (check REDIS_URL)`);
      }));
    const result = await command(waitingForRedis(client, connected), positionals.slice(grouped ? 2 : 1), v);
    out(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`error: ${e.message}\nRun "${name} --help" for usage.\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      // A bad setting is a failed run (1), as at load; not a usage error.
      err(`error: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ValidationError) {
      const extra = e.details.filter((d) => !e.message.includes(d.message));
      err(`error: ${e.message}\n${extra.map((d) => `  - ${d.message}\n`).join('')}`);
      return 2;
    }
    if (e instanceof UnavailableError) {
      // The keys the message says to retry with: without them a rerun would make new ones.
      const keys = e.jobIds ?? (e.jobId !== undefined ? [e.jobId] : []);
      err(`error: ${e.message}\n${keys.length > 0 ? `jobIds, in input order (retry with them as each job's jobId): ${keys.join(' ')}\n` : ''}`);
      return 1;
    }
    if (e instanceof NotFoundError) {
      err(`error: ${e.message}\n`);
      return 1;
    }
    err(`error: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  } finally {
    await client.close().catch(() => {});
  }
}
