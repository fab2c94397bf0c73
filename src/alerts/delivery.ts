import { createHash, createHmac, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { centerKey, createRedis, queuePrefix, type RedisClient } from '../redis/connection.js';
import { RedisScript } from '../redis/script.js';
import type { Alert } from './alert.js';

/** The center's own queue of webhook deliveries (not a job queue of the contracts). */
export const ALERTS_QUEUE = 'jc-alerts';

/** `sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`, the `X-JobCenter-Signature` header. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A short, stable name of a webhook URL: the URL itself may hold a token and is not stored in Redis. */
export function targetOf(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12);
}

/*
 * Which process delivers where. Processes may be configured differently: the detector holding the
 * lease may have no ALERT_WEBHOOK_URL (its alerts were then never queued), and a URL may be
 * changed (rotated token) while deliveries to the old one still wait (they failed everywhere,
 * then were dropped). So each delivery worker claims its targets in Redis, renewed while it
 * runs and withdrawn 30 s after it stops; alerts are queued for every live target, a delivery for a
 * target another live process serves is handed back without spending an attempt, and one for a
 * target no live process serves any more goes to this process's URLs instead.
 */

/** How often a delivery worker renews its claims. */
const CLAIM_RENEW_MS = 30_000;
/** A claim older than this is a process gone without withdrawing it (killed): no longer live. */
const CLAIM_TTL_MS = 90_000;
/** How long a stopped process's claims still count: a restart within it finds its deliveries waiting. */
const STOP_GRACE_MS = 30_000;
/** How soon a delivery meant for another live process's URL is offered again. */
const HAND_BACK_MS = 1000;

/** Hash of claims: field `<target> <process>`, value the time of the last renewal (ms). */
function claimsKey(config: Config): string {
  return centerKey(config, 'alerts', 'targets');
}

/*
 * Claims are stamped and judged by the Redis server's clock (TIME, inside the scripts below), the
 * one clock every process shares. By its own clock, a process running minutes ahead found every
 * other claim stale (dropping their URLs' alerts and deleting their claims), and one running behind
 * had its own claims judged stale by every other process.
 */
const REDIS_NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/** The Redis time (ms) and the targets claimed within ARGV[1] ms. KEYS: the claims hash. */
const LIVE = new RedisScript('AlertTargetsLive', `
${REDIS_NOW_MS}
local out = {string.format('%d', now)}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if now - (tonumber(all[i + 1]) or 0) < tonumber(ARGV[1]) then out[#out + 1] = string.match(all[i], '^%S+') end
end
return out
`);

/** The targets some live process delivers to, and the Redis time they were read at (ms). */
async function liveTargets(redis: RedisClient, config: Config): Promise<{ live: Set<string>; now: number }> {
  const [now, ...live] = (await LIVE.run(redis, [claimsKey(config)], [CLAIM_TTL_MS])) as string[];
  return { live: new Set(live), now: Number(now) };
}

/**
 * Stamps a process's claims `now + ARGV[2]` (0 to renew them; minus the time left to live, for
 * the grace after a stop) and deletes the stale ones, in one step: read first and deleted after,
 * a claim stale when read but renewed meanwhile (this process's own, or another's, after an outage
 * longer than CLAIM_TTL_MS) was deleted fresh. KEYS: the claims hash. ARGV: ttl, offset, fields.
 */
const CLAIM = new RedisScript('AlertTargetsClaim', `
${REDIS_NOW_MS}
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], string.format('%d', now + tonumber(ARGV[2]))) end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if now - (tonumber(all[i + 1]) or 0) >= tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], all[i]) end
end
return 1
`);

const deliveryId = (alertId: string, target: string): string => `alert.${alertId}.${target}`;

interface DeliveryData {
  target: string;
  /** The exact body that is signed and sent. */
  body: string;
  type: string;
}

/**
 * Queues alerts for delivery: one BullMQ job per alert and webhook URL, with a job id derived
 * from the alert id, so an alert queued twice (two detectors, a retry after a crash) is sent once.
 * Jobs persist in Redis, so an alert survives a restart of every process, and they retry with
 * exponential backoff (capped) while a receiver is down.
 */
export class AlertOutbox {
  readonly queue: Queue;

  constructor(
    private readonly config: Config,
    private readonly redis: RedisClient,
    logger: Logger,
  ) {
    this.queue = new Queue(ALERTS_QUEUE, { connection: redis, prefix: queuePrefix(config, ALERTS_QUEUE) });
    // Without a listener BullMQ prints the raw error, whose command arguments carry the Redis
    // password when authentication fails.
    this.queue.on('error', (err) => logger.debug({ err: err.message }, 'Alert queue error'));
  }

  /** Queues `alert` for this process's webhook URLs and those other live processes deliver to. */
  async send(alert: Alert): Promise<void> {
    const targets = new Set([...this.config.alerts.webhookUrls.map(targetOf), ...(await liveTargets(this.redis, this.config)).live]);
    const body = JSON.stringify(alert);
    await Promise.all([...targets].map((target) => this.queueFor(alert.id, target, { target, body, type: alert.type })));
  }

  /** One delivery of alert `alertId` to `target`; its id makes a second one for the same pair a no-op. */
  queueFor(alertId: string, target: string, data: DeliveryData): Promise<unknown> {
    return this.queue.add(data.type, { ...data, target }, {
      jobId: deliveryId(alertId, target),
      attempts: this.config.alerts.retryAttempts,
      backoff: { type: 'capped' },
      removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * Where to POST and how to authenticate: fetch refuses a URL with `user:password@` (and its error
 * repeats the whole URL), so credentials in ALERT_WEBHOOK_URL travel as Basic authentication.
 */
function requestOf(url: string): { href: string; authorization?: string } {
  const u = new URL(url);
  if (!u.username && !u.password) return { href: url };
  const credentials = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = '';
  u.password = '';
  return { href: u.href, authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Why a POST failed, without any URL: a webhook URL may hold a token, and the reason is logged and kept in Redis. */
function reasonOf(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const reason = e.cause?.message ?? e.message;
  return String(reason).replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<webhook url>');
}

/** POSTs one signed alert; throws on anything but a 2xx so BullMQ retries it. */
async function post(config: Config, url: string, body: string): Promise<number> {
  let res: Response;
  try {
    const { href, authorization } = requestOf(url);
    res = await fetch(href, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'job-center-alerts',
        'x-jobcenter-signature': signature(config.alerts.webhookSecret ?? '', body),
        ...(authorization ? { authorization } : {}),
      },
      body,
      signal: AbortSignal.timeout(config.alerts.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    // Not the caught error as `cause`: its message (and its request's) repeats the URL.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`webhook ${targetOf(url)} could not be reached: ${reasonOf(err, config.alerts.timeoutMs)}`);
  }
  await res.body?.cancel().catch(() => {});
  if (res.status < 200 || res.status > 299) throw new Error(`webhook answered ${res.status}`);
  return res.status;
}

/**
 * Runs the delivery worker of this process (server and producer run one each when
 * ALERT_WEBHOOK_URL is set). Retries wait retryDelay·2^(n−1), at most ALERT_RETRY_MAX_DELAY_MS.
 */
export function startAlertDelivery(options: { config: Config; logger: Logger; lifecycle: Lifecycle }): Worker | undefined {
  const { config, logger, lifecycle } = options;
  if (config.alerts.webhookUrls.length === 0) return undefined;
  const byTarget = new Map(config.alerts.webhookUrls.map((url) => [targetOf(url), url]));
  const connection = createRedis(config, 'worker', logger);
  // Commands on their own connection: the worker's is blocked while it waits for deliveries.
  const redis = createRedis(config, 'worker', logger);
  const outbox = new AlertOutbox(config, redis, logger);
  const { retryDelayMs, retryMaxDelayMs } = config.alerts;
  const self = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const fields = [...byTarget.keys()].map((target) => `${target} ${self}`);
  // Renews this process's claims and drops those of processes gone without withdrawing theirs (CLAIM).
  const claim = (offsetMs = 0) => CLAIM.run(redis, [claimsKey(config)], [CLAIM_TTL_MS, offsetMs, ...fields]);
  const claiming = claim().catch((err: Error) => logger.warn({ err: err.message }, 'Could not claim the webhook targets of this process'));
  const renew = setInterval(() => void claim().catch((err: Error) => logger.debug({ err: err.message }, 'Could not renew webhook target claims')), CLAIM_RENEW_MS);
  renew.unref();
  // Again as soon as Redis is back, not at the next renewal: after an outage longer than
  // CLAIM_TTL_MS, or a Redis that came back without them, this process's URLs counted as served
  // by no one meanwhile (alerts not queued for them, their deliveries redirected elsewhere).
  // Not once stopping: the claims expiring after a stop would be renewed by a reconnect meanwhile.
  let stopping = false;
  redis.on('ready', () => {
    if (!stopping) void claim().catch((err: Error) => logger.debug({ err: err.message }, 'Could not renew webhook target claims'));
  });
  const worker = new Worker(
    ALERTS_QUEUE,
    async (job: Job<DeliveryData>, token?: string) => {
      const url = byTarget.get(job.data.target);
      if (url) return { status: await post(config, url, job.data.body) };
      const { live, now } = await liveTargets(redis, config);
      if (live.has(job.data.target)) {
        // Another live process has that URL: offer the delivery again soon, without spending an attempt.
        // Soon by Redis's clock too: by this process's own, running minutes ahead, it was minutes away.
        await job.moveToDelayed(now + HAND_BACK_MS, token);
        // But BullMQ promotes a delayed job by the clock of the worker that asks for the next job: a
        // process ahead of Redis's clock found its hand-back due at once and took it back itself,
        // over and over, and the process the delivery is for got it only by chance. Such a process
        // stops taking deliveries for a moment, so that the other one takes it.
        if (Date.now() - now > HAND_BACK_MS / 2) yieldTurn();
        throw new DelayedError();
      }
      // No live process has that URL any more (changed or removed): this process's URLs get the
      // alert instead, each once (delivery ids are per alert and target).
      const alertId = String(job.id).slice('alert.'.length, -(job.data.target.length + 1));
      const retargeted = [...byTarget.keys()];
      await Promise.all(retargeted.map((target) => outbox.queueFor(alertId, target, job.data)));
      logger.info({ alert: alertId, type: job.data.type, from: job.data.target, to: retargeted }, 'Alert redirected: no running process has its webhook URL any more');
      return { retargeted };
    },
    {
      connection,
      prefix: queuePrefix(config, ALERTS_QUEUE),
      concurrency: 4,
      autorun: false,
      settings: {
        backoffStrategy: (attemptsMade: number) => Math.min(retryDelayMs * 2 ** Math.max(0, attemptsMade - 1), retryMaxDelayMs),
      },
    },
  );
  let yielding = false;
  const yieldTurn = (): void => {
    if (yielding || stopping) return;
    yielding = true;
    // Not waiting for the running deliveries (one is the caller); BullMQ then fetches nothing after it.
    void worker.pause(true).catch(() => {});
    setTimeout(() => {
      yielding = false;
      if (!stopping) worker.resume();
    }, 2 * HAND_BACK_MS).unref();
  };
  // Deliveries start once this process's claims are written, so none of its own is handed back.
  void claiming.then(() => worker.run()).catch(() => {});
  worker.on('error', (err) => logger.debug({ err: err.message }, 'Alert delivery worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.warn(
      { alert: job.id, type: job.data.type, target: job.data.target, attempt: job.attemptsMade, final, err: err.message },
      final ? 'Alert could not be delivered; giving up' : 'Alert delivery failed; will retry',
    );
  });
  worker.on('completed', (job) => {
    if (byTarget.has(job.data.target)) logger.info({ alert: job.id, type: job.data.type, target: job.data.target }, 'Alert delivered');
  });
  lifecycle.add('alert delivery', worker, async () => {
    stopping = true;
    clearInterval(renew);
    await worker.close();
    // Withdrawn after STOP_GRACE_MS, not at once: a graceful restart (a deploy) must keep its URLs'
    // pending deliveries. Withdrawn at once, they were redirected elsewhere meanwhile and this URL
    // never got them (only, later, their *.recovered). A URL changed by the restart is redirected
    // to once the grace is over.
    await claim(STOP_GRACE_MS - CLAIM_TTL_MS).catch(() => {});
    await outbox.close().catch(() => {});
    await Promise.all([connection.quit().catch(() => {}), redis.quit().catch(() => {})]);
  });
  return worker;
}
