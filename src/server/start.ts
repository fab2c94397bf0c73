import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { startAlerting } from '../alerts/index.js';
import { JobCenterClient } from '../client.js';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { Queues } from '../queues.js';
import { buildApp } from './app.js';
import { AuditLog } from './audit.js';
import { trustProxyRisk } from './auth.js';
import { checkServerConfig } from './board.js';

/** A started server: where it listens, and the client behind it. */
export interface StartedServer {
  readonly port: number;
  /** `http://<host>:<port>` (localhost when listening on every interface). */
  readonly url: string;
  readonly client: JobCenterClient;
}

/**
 * Why the server cannot listen, as a ConfigError naming PORT or HOST and what to change (the
 * process then exits 1 with it, and `npm start` stops instead of restarting the server): a bare
 * "listen EADDRINUSE" named neither. Other errors are returned as they are.
 */
function listenError(err: NodeJS.ErrnoException, port: number, host: string): Error {
  const where = `${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new ConfigError([{
        field: 'PORT',
        message: `PORT=${port}: ${where} is already in use (another Job Center server, or a second npm start?); set PORT to a free port, or stop what listens there`,
      }]);
    case 'EACCES':
      return new ConfigError([{
        field: 'PORT',
        message: `PORT=${port}: not permitted to listen on ${where} (ports below 1024 need privileges); set PORT to a port from 1024 to 65535`,
      }]);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new ConfigError([{
        field: 'HOST',
        message: `HOST=${JSON.stringify(host)}: cannot listen on it (${err.code}: not an address of this machine); set HOST to one of its addresses, e.g. 127.0.0.1, or 0.0.0.0 for every interface`,
      }]);
    default:
      return err;
  }
}

/**
 * Listens with `app` and registers the server with `lifecycle` (closed with its open connections).
 * @returns the port (the one chosen when `port` is 0).
 */
export async function listen(app: Express, port: number, host: string, lifecycle: Lifecycle): Promise<number> {
  const server = app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err) => reject(listenError(err, port, host)));
  });
  lifecycle.add('http server', server, () => new Promise<void>((done) => {
    server.close(() => done());
    server.closeAllConnections();
  }));
  return (server.address() as AddressInfo).port;
}

/**
 * Starts the center's HTTP server for `config` (its catalog, board accounts, tokens): Bull Board,
 * /api, /healthz, /metrics, the schedule page, and schedule/queue alerting. Everything it opens is
 * registered with `lifecycle`, so `lifecycle.shutdown()` stops it.
 * @throws ConfigError before anything opens when the server's settings are unusable (no board account).
 */
export async function startServer(ctx: { config: Config; logger: Logger; lifecycle: Lifecycle }): Promise<StartedServer> {
  const { config, logger, lifecycle } = ctx;
  checkServerConfig(config);
  const { admin, viewer, basePath } = config.server.board;
  for (const [name, account] of [['BOARD_PASSWORD', admin], ['BOARD_VIEWER_PASSWORD', viewer]] as const) {
    if (account && account.password.length < 12) {
      logger.warn(`${name} is shorter than 12 characters; use a long random one (openssl rand -base64 24)`);
    }
  }
  if (config.catalog.names.length === 0) {
    logger.warn('No job catalog: the board shows no queues and nothing can be enqueued (pass `contracts`, or set JOB_CATALOG)');
  }
  const proxyRisk = trustProxyRisk(config.server.trustProxy);
  if (proxyRisk) logger.warn(proxyRisk);
  const client = new JobCenterClient(config, logger, lifecycle);
  const app = buildApp({ config, logger, service: client, audit: new AuditLog(logger) });
  const port = await listen(app, config.server.port, config.server.host, lifecycle);
  const host = config.server.host === '0.0.0.0' ? 'localhost' : config.server.host;
  logger.info(
    { port, board: `http://${host}:${port}${basePath}`, admin: admin?.user, viewer: viewer?.user ?? null },
    `Server listening on http://${host}:${port}: board at ${basePath} (admin ${JSON.stringify(admin?.user)}` +
      `${viewer ? `, read-only viewer ${JSON.stringify(viewer.user)}` : ', no viewer account'}), /healthz, /metrics`,
  );
  void client.ready(Infinity).then(
    () => client.checkEvictionPolicy(),
    (err: unknown) => {
      // The server listens while Redis is away (the board says so), so its start does not wait for
      // Redis; a database REDIS_URL selects that the server refused stops it as any bad setting.
      if (!(err instanceof ConfigError)) return;
      logger.fatal({ err: err.message }, 'Invalid configuration; stopping');
      void lifecycle.shutdown(5000).finally(() => process.exit(1));
    },
  );
  // Schedule and queue watching (one active detector per Redis) and alert delivery, on connections of their own.
  startAlerting({ config, logger, lifecycle, queues: new Queues(config, logger, lifecycle) });
  return { port, url: `http://${host}:${port}`, client };
}
