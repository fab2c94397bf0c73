import 'dotenv/config';
import { loadConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';

/**
 * Runs one process of the center: loads `.env` and the config (exit 1 with the reason when invalid),
 * starts it, and exits 0 after a clean shutdown on SIGTERM/SIGINT.
 */
export function runProcess(
  name: string,
  start: (ctx: { config: Config; logger: Logger; lifecycle: Lifecycle }) => Promise<void>,
): void {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`[${name}] ${err.message}\nSee .env.example for every variable and its allowed values.\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config, name);
  const lifecycle = new Lifecycle(logger);
  lifecycle.handleSignals(() => {
    logger.info('Stopped');
    process.exit(0);
  });
  if (process.send) {
    // Run by the `npm start` supervisor: if it dies, do not outlive it.
    process.channel?.unref();
    process.once('disconnect', () => {
      logger.info('Supervisor gone; shutting down');
      void lifecycle.shutdown().then(() => process.exit(0));
    });
  }
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'Unhandled rejection');
  });
  start({ config, logger, lifecycle }).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err: message }, `Failed to start ${name}`);
    void lifecycle.shutdown(5000).finally(() => process.exit(1));
  });
}
