import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import basicAuth from 'express-basic-auth';
import type { Express } from 'express';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { ServerDeps } from './app.js';
import { safeEqual } from './auth.js';

/**
 * Refuses configurations that would expose the board: in production both BOARD_USER and
 * BOARD_PASSWORD are required.
 * @throws ConfigError naming the variables.
 */
export function checkServerConfig(config: Config): void {
  if (!config.server.board.admin) {
    throw new ConfigError([
      {
        field: 'BOARD_PASSWORD',
        message:
          'BOARD_USER and BOARD_PASSWORD must both be set: the board is never served without authentication' +
          (config.env === 'production' ? ' (NODE_ENV=production)' : ' (npm start generates them for local runs)'),
      },
    ]);
  }
}

/** Mounts Bull Board for every declared queue at BOARD_BASE_PATH, behind basic auth. */
export function mountBoard(app: Express, deps: ServerDeps): void {
  const { config, client } = deps;
  const admin = config.server.board.admin;
  if (!admin) return;
  const basePath = config.server.board.basePath;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: client.queues.all().map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: config.server.board.title } },
  });
  app.use(
    basePath,
    basicAuth({
      authorizer: (user: string, password: string) => safeEqual(user, admin.user) && safeEqual(password, admin.password),
      challenge: true,
      realm: 'job-center',
    }),
    serverAdapter.getRouter(),
  );
}
