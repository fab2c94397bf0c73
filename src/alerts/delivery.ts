import { createHash, createHmac } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { createRedis, queuePrefix, type RedisClient } from '../redis/connection.js';
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
    connection: RedisClient,
    logger: Logger,
  ) {
    this.queue = new Queue(ALERTS_QUEUE, { connection, prefix: queuePrefix(config, ALERTS_QUEUE) });
    // Without a listener BullMQ prints the raw error, whose command arguments carry the Redis
    // password when authentication fails.
    this.queue.on('error', (err) => logger.debug({ err: err.message }, 'Alert queue error'));
  }

  get enabled(): boolean {
    return this.config.alerts.webhookUrls.length > 0;
  }

  async send(alert: Alert): Promise<void> {
    if (!this.enabled) return;
    const body = JSON.stringify(alert);
    const { retryAttempts } = this.config.alerts;
    await Promise.all(
      this.config.alerts.webhookUrls.map((url) => {
        const target = targetOf(url);
        const data: DeliveryData = { target, body, type: alert.type };
        return this.queue.add(alert.type, data, {
          jobId: `alert.${alert.id}.${target}`,
          attempts: retryAttempts,
          backoff: { type: 'capped' },
          removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
          removeOnFail: { age: 30 * 24 * 3600 },
        });
      }),
    );
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
  const { retryDelayMs, retryMaxDelayMs } = config.alerts;
  const worker = new Worker(
    ALERTS_QUEUE,
    async (job: Job<DeliveryData>) => {
      const url = byTarget.get(job.data.target);
      // Not this process's URL (its configuration differs): fail the attempt, another process may have it.
      if (!url) throw new Error(`webhook ${job.data.target} is not configured in this process`);
      return { status: await post(config, url, job.data.body) };
    },
    {
      connection,
      prefix: queuePrefix(config, ALERTS_QUEUE),
      concurrency: 4,
      settings: {
        backoffStrategy: (attemptsMade: number) => Math.min(retryDelayMs * 2 ** Math.max(0, attemptsMade - 1), retryMaxDelayMs),
      },
    },
  );
  worker.on('error', (err) => logger.debug({ err: err.message }, 'Alert delivery worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.warn(
      { alert: job.id, type: job.data.type, target: job.data.target, attempt: job.attemptsMade, final, err: err.message },
      final ? 'Alert could not be delivered; giving up' : 'Alert delivery failed; will retry',
    );
  });
  worker.on('completed', (job) => logger.info({ alert: job.id, type: job.data.type, target: job.data.target }, 'Alert delivered'));
  lifecycle.add('alert delivery', worker, async () => {
    await worker.close();
    await connection.quit().catch(() => {});
  });
  return worker;
}
