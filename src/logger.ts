import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

export type { Logger };

/** The process logger: JSON lines for machines, or `LOG_FORMAT=pretty` for people. */
export function createLogger(config: Pick<Config, 'log'>, name: string): Logger {
  const options = { level: config.log.level, base: { proc: name } };
  if (config.log.format === 'pretty') {
    return pino(options, pretty({ colorize: process.stdout.isTTY, sync: true, singleLine: true, ignore: 'pid,hostname,proc' }));
  }
  return pino(options);
}
