import { format } from 'node:util';
import type { Job } from 'bullmq';
import type { Logger } from '../logger.js';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
/** The longest line copied to a job's log; the worker's own log keeps the whole line. */
const MAX_LINE_CHARS = 2000;

/** One pino call's arguments (`(obj, msg, ...args)` or `(msg, ...args)`) as one line of text. */
function lineOf(level: string, args: unknown[]): string {
  const [first, ...rest] = args;
  // Both forms bounded: a `ctx.log.info(hugeString)` line was copied whole (megabytes per line).
  if (typeof first === 'string') return `${level.toUpperCase()} ${format(first, ...rest)}`.slice(0, MAX_LINE_CHARS);
  const msg = typeof rest[0] === 'string' ? format(rest[0], ...rest.slice(1)) : '';
  const obj = first instanceof Error ? { err: first.message } : first;
  let fields: string;
  try {
    fields = obj === undefined ? '' : JSON.stringify(obj);
  } catch {
    fields = '[unserializable]';
  }
  return `${level.toUpperCase()} ${msg}${msg && fields ? ' ' : ''}${fields}`.slice(0, MAX_LINE_CHARS);
}

/**
 * The job's `ctx.log`: a pino logger bound to the job that also appends each line (at or above
 * the logger's level) to the job's own log (BullMQ `job.log`), so the board's Logs tab and the
 * API show it. At most `maxLines` lines per run reach the job's log, then one line saying the
 * rest is in the worker's log only: a chatty handler must not grow Redis without bound. Built
 * only when a handler reads `ctx.log`, so handlers that do not log pay nothing.
 */
export function jobLogger(logger: Logger, job: Job, maxLines: number, ended: () => boolean = () => false): Logger {
  if (maxLines <= 0) return logger;
  let written = 0;
  const append = (level: string, args: unknown[]): void => {
    // A run let go of (timeout, cancel, shutdown) that goes on logging: the worker's log only.
    if (written > maxLines || ended()) return;
    written++;
    const line = written > maxLines ? `... more than ${maxLines} lines; the rest are in the worker's log only (JOB_LOG_MAX_LINES)` : lineOf(level, args);
    // Fire and forget: a log line must never fail or slow the job; Redis being down loses it.
    job.log(line).catch(() => {});
  };
  return new Proxy(logger, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !LEVELS.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (target.isLevelEnabled(prop)) append(prop, args);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
