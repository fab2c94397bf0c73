import type { AddressInfo } from 'node:net';
import { startAlerting } from '../alerts/index.js';
import { JobCenterClient } from '../client.js';
import { Queues } from '../queues.js';
import { ConfigError } from '../errors.js';
import { runProcess } from '../main.js';
import { buildApp } from './app.js';
import { AuditLog } from './audit.js';
import { checkServerConfig } from './board.js';

runProcess('server', async ({ config, logger, lifecycle }) => {
  try {
    checkServerConfig(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Same shape as any other configuration error: to stderr, exit 1, before any connection opens.
    process.stderr.write(`[server] ${err.message}\nSee .env.example for every variable and its allowed values.\n`);
    process.exit(1);
  }
  const { admin, viewer, basePath } = config.server.board;
  for (const [name, account] of [['BOARD_PASSWORD', admin], ['BOARD_VIEWER_PASSWORD', viewer]] as const) {
    if (account && account.password.length < 12) {
      logger.warn(`${name} is shorter than 12 characters; use a long random one (openssl rand -base64 24)`);
    }
  }
  const client = new JobCenterClient(config, logger, lifecycle);
  const app = buildApp({ config, logger, service: client, audit: new AuditLog(logger) });
  const server = app.listen(config.server.port, config.server.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  lifecycle.add('http server', server, () => new Promise<void>((done) => {
    server.close(() => done());
    server.closeAllConnections();
  }));
  const { port } = server.address() as AddressInfo;
  const host = config.server.host === '0.0.0.0' ? 'localhost' : config.server.host;
  logger.info(
    { port, board: `http://${host}:${port}${basePath}`, admin: admin?.user, viewer: viewer?.user ?? null },
    `Server listening on http://${host}:${port}: board at ${basePath} (admin ${JSON.stringify(admin?.user)}` +
      `${viewer ? `, read-only viewer ${JSON.stringify(viewer.user)}` : ', no viewer account'}), /healthz, /metrics`,
  );
  void client.ready(Infinity).then(() => client.checkEvictionPolicy(), () => {});
  // Schedule and queue watching (one active detector per Redis) and alert delivery, on connections of their own.
  startAlerting({ config, logger, lifecycle, queues: new Queues(config, logger, lifecycle) });
});
