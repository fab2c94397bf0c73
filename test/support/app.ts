import { pino } from 'pino';
import { JobCenterClient } from '../../src/client.js';
import { loadConfig } from '../../src/config.js';
import { jobs } from '../../contracts/index.js';
import { Lifecycle } from '../../src/lifecycle.js';
import { buildApp } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { listen } from '../../src/server/start.js';
import type { LogLine } from './processes.js';

/**
 * Log lines kept in memory, with the same reading API as a CenterProcess (`lines`, `waitForLog`,
 * `waitForMessage`, `output`), so a test reads an in-process server's log like a process's.
 */
export class LogCapture {
  readonly lines: LogLine[] = [];
  #waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  /** A pino destination: one JSON object per write. */
  write(text: string): void {
    const line = JSON.parse(text) as LogLine;
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pred(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching log line within ${timeoutMs} ms. Log:\n${this.output()}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  waitForMessage(text: string, timeoutMs?: number): Promise<LogLine> {
    return this.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes(text), timeoutMs);
  }

  output(): string {
    return this.lines.slice(-60).map((l) => JSON.stringify(l)).join('\n');
  }
}

/** The server's HTTP app in this process, on an ephemeral port. */
export interface TestApp {
  /** Its log, read like a server process's (`proc` so tests read the same either way). */
  readonly proc: LogCapture;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  close(): Promise<void>;
}

/**
 * Builds the app the server process runs (`buildApp`, with the same config from `env`, a client and
 * the audit log) and listens on 127.0.0.1 with a free port. For tests of HTTP behaviour; the start-up
 * checks of `npm run server` (refusing bad credentials, exit codes) stay tested on the real process.
 */
export async function startApp(env: Record<string, string>): Promise<TestApp> {
  const config = loadConfig({ LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env }, { contracts: jobs });
  const proc = new LogCapture();
  const logger = pino({ level: config.log.level, base: { proc: 'server' } }, proc);
  const lifecycle = new Lifecycle(logger);
  const client = new JobCenterClient(config, logger, lifecycle);
  const app = buildApp({ config, logger, service: client, audit: new AuditLog(logger) });
  const port = await listen(app, 0, '127.0.0.1', lifecycle);
  return { proc, base: `http://127.0.0.1:${port}`, close: () => lifecycle.shutdown(5000) };
}
