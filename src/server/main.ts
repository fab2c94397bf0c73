import type { AddressInfo } from 'node:net';
import { JobCenterClient } from '../client.js';
import { runProcess } from '../main.js';
import { checkEvictionPolicy } from '../redis/connection.js';
import { buildApp } from './app.js';
import { AuditLog } from './audit.js';
import { checkServerConfig } from './board.js';

runProcess('server', async ({ config, logger, lifecycle }) => {
  checkServerConfig(config);
  const client = new JobCenterClient(config, logger, lifecycle);
  const app = buildApp({ config, logger, client, audit: new AuditLog(logger) });
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
  logger.info(
    { port, board: `http://${config.server.host}:${port}${config.server.board.basePath}` },
    `Server listening on http://${config.server.host}:${port}`,
  );
  void client.queues.ready().then(() => checkEvictionPolicy(client.queues.redis, logger));
});
