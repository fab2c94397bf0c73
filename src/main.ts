import 'dotenv/config';
import { loadConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { importCatalog } from './jobs/catalog.js';
import type { ContractMap } from './jobs/contract.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { STARTED_MESSAGE } from './process-started.js';

export interface RunProcessOptions {
  /**
   * The job catalog of the process. @defaultValue the module named by JOB_CATALOG (its `jobs`
   * export), or none when JOB_CATALOG is unset
   */
  readonly contracts?: ContractMap;
}

/**
 * Runs one process of the center: loads `.env`, the job catalog and the config, starts it, and exits
 * 0 after a clean shutdown on SIGTERM/SIGINT. A configuration error (at load or from `start`) is
 * printed to stderr and exits 1, before any connection opens.
 */
export function runProcess(
  name: string,
  start: (ctx: { config: Config; logger: Logger; lifecycle: Lifecycle }) => Promise<void>,
  options: RunProcessOptions = {},
): void {
  const configError = (err: unknown): boolean => {
    if (!(err instanceof ConfigError)) return false;
    process.stderr.write(`[${name}] ${err.message}\nSee .env.example for every variable and its allowed values.\n`);
    process.exit(1);
  };
  void (async () => {
    let config: Config;
    try {
      const catalogPath = process.env.JOB_CATALOG;
      const contracts = options.contracts ?? (catalogPath ? await importCatalog(catalogPath) : undefined);
      config = loadConfig(process.env, contracts ? { contracts } : {});
    } catch (err) {
      if (configError(err)) return;
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
    start({ config, logger, lifecycle }).then(
      // Run by the `npm start` supervisor: tell it this process started (see process-started.ts).
      () => process.send?.(STARTED_MESSAGE),
      (err: unknown) => {
        if (err instanceof ConfigError) {
          void lifecycle.shutdown(5000).finally(() => configError(err));
          return;
        }
        const message = err instanceof Error ? err.message : String(err);
        logger.fatal({ err: message }, `Failed to start ${name}`);
        void lifecycle.shutdown(5000).finally(() => process.exit(1));
      },
    );
  })();
}
