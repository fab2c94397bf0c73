import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Alert } from '../../src/alerts/alert.js';

/** One alert as a receiver got it, after its signature was checked: the center's own payload type. */
export type Received = Alert;

/**
 * A local webhook receiver, as a user would write one: it verifies `X-JobCenter-Signature`
 * (HMAC-SHA256 of the raw body, constant-time compare) and answers 401 to a bad one. `refuse`
 * makes it answer 503, as a receiver that is down.
 */
export class WebhookReceiver {
  readonly alerts: Received[] = [];
  readonly badSignatures: string[] = [];
  /** The Authorization header of every accepted alert ('' when none). */
  readonly authorizations: string[] = [];
  refused = 0;
  refuse = false;
  #server: Server;
  #waiters: { pred: (a: Received) => boolean; resolve: (a: Received) => void }[] = [];

  private constructor(readonly secret: string) {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        this.#handle(Buffer.concat(chunks), String(req.headers['x-jobcenter-signature'] ?? ''), String(req.headers.authorization ?? ''), res),
      );
    });
  }

  static async start(secret: string): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** The receiver's URL with `user:password@` in it, as a Basic-auth protected webhook is configured. */
  urlWithCredentials(user: string, password: string): string {
    return `http://${user}:${password}@127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  #handle(raw: Buffer, header: string, authorization: string, res: ServerResponse): void {
    if (this.refuse) {
      this.refused++;
      res.writeHead(503).end();
      return;
    }
    const expected = Buffer.from(`sha256=${createHmac('sha256', this.secret).update(raw).digest('hex')}`);
    const given = Buffer.from(header);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.badSignatures.push(header);
      res.writeHead(401).end();
      return;
    }
    const alert = JSON.parse(raw.toString('utf8')) as Received;
    this.alerts.push(alert);
    this.authorizations.push(authorization);
    res.writeHead(204).end();
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pred(alert)) return true;
      w.resolve(alert);
      return false;
    });
  }

  /** Resolves with the first alert (received or future) matching `pred`. */
  waitFor(pred: (a: Received) => boolean, what: string, timeoutMs = 20_000): Promise<Received> {
    const seen = this.alerts.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`No ${what} alert within ${timeoutMs} ms; got: ${JSON.stringify(this.alerts.map((a) => [a.type, a.schedule ?? a.queue]))}`)),
        timeoutMs,
      );
      this.#waiters.push({
        pred,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      });
    });
  }

  of(type: string, subject: string): Received[] {
    return this.alerts.filter((a) => a.type === type && (a.schedule ?? a.queue) === subject);
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
