import { execFile } from 'node:child_process';
import { ENTRIES, nodeCommand, ROOT } from './processes.js';

/** One finished CLI run. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (what every command prints). */
  json<T = Record<string, unknown>>(): T;
}

/**
 * Runs the CLI as the installed `job-center` command does (compiled, see nodeCommand; the app's
 * catalog in JOB_CATALOG) with only `env` besides PATH and HOME, and resolves once it exited.
 * `input` goes to its stdin (once it resolves, when a promise: the CLI reads it as it comes).
 */
export function runCli(args: string[], env: Record<string, string>, options: { input?: string | Promise<string>; timeoutMs?: number } = {}): Promise<CliRun> {
  const command = nodeCommand(ENTRIES.cli);
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [...command.args, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, JOB_CATALOG: command.catalog, ...env }, timeout: options.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? null) : 0;
        done({ code: typeof code === 'number' ? code : null, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
      },
    );
    void Promise.resolve(options.input ?? '').then((text) => child.stdin?.end(text));
  });
}
