import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILT_DIRS, staleSources } from './build.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const ENTRIES = {
  worker: 'workers/main.ts',
  producer: 'producers/main.ts',
  server: 'server/main.ts',
  supervisor: 'src/supervisor.ts',
  cli: 'src/cli/main.ts',
} as const;

/** The app's job catalog, as `npm run cli` names it to the CLI (JOB_CATALOG), for tsx processes. */
const APP_CATALOG = resolve(ROOT, 'contracts/index.ts');
/** The same catalog compiled, for compiled processes (plain node cannot import the .ts). */
const APP_CATALOG_COMPILED = resolve(ROOT, 'dist/contracts/index.js');

let builtChecked = false;
/** Throws when dist/ lacks, or is older than, a source file of the build: a test must not run old code. */
function assertBuilt(): void {
  if (builtChecked) return;
  const stale = staleSources();
  if (stale.length > 0) {
    throw new Error(`dist/ is missing or older than ${stale.slice(0, 3).join(', ')}: run \`npm run build\` (npm test and test:one build first)`);
  }
  builtChecked = true;
}

/**
 * How a test starts a center entry: `node` and its arguments, and the JOB_CATALOG that fits.
 * Entries of the build run compiled (`node dist/….js`), as the Docker image runs them: such a process
 * starts in about half the CPU time it takes under tsx, and the suite starts some 200 of them.
 * The supervisor runs under tsx as `npm start` runs it (its children follow it), and so do files
 * outside the build (test fixtures), or any entry with `tsx: true`. `tsx: false` runs `entry` as is.
 */
export function nodeCommand(entry: string, tsx?: boolean): { args: string[]; catalog: string } {
  const source = isAbsolute(entry) ? entry : resolve(ROOT, entry);
  if (tsx === false) return { args: [source], catalog: APP_CATALOG_COMPILED };
  const built = !isAbsolute(entry) && BUILT_DIRS.some((d) => entry.startsWith(`${d}/`));
  if (tsx === true || !built || entry === ENTRIES.supervisor) return { args: ['--import', 'tsx', source], catalog: APP_CATALOG };
  assertBuilt();
  return { args: [resolve(ROOT, 'dist', entry.replace(/\.ts$/, '.js'))], catalog: APP_CATALOG_COMPILED };
}

/** One parsed JSON log line of a center process. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/**
 * A real center process (see nodeCommand: compiled from dist/, or tsx). Its JSON log lines are
 * parsed and kept so tests can wait for events; on failure, `output()` is the evidence.
 */
export class CenterProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #closed?: string;
  #waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void; reject: (e: Error) => void }[] = [];

  constructor(
    readonly name: string,
    entry: string,
    env: NodeJS.ProcessEnv,
    args: string[] = [],
    /** See nodeCommand for `tsx`; `cwd` defaults to the repository. */
    options: { cwd?: string; tsx?: boolean } = {},
  ) {
    const command = nodeCommand(entry, options.tsx);
    // As `npm start` and `npm run cli` do: the supervisor and the CLI get the app's catalog by path.
    if (entry === ENTRIES.supervisor || entry === ENTRIES.cli) env = { JOB_CATALOG: command.catalog, ...env };
    this.child = spawn(process.execPath, [...command.args, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    // After 'close' all output has been read: pending waits can only fail, so fail them now.
    this.child.once('close', (code, signal) => {
      this.#closed = `${this.name} exited (${signal ?? code}) before the awaited log line`;
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`${this.#closed}. Output:\n${this.output()}`));
    });
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.raw.push(text);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = { msg: text };
        }
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.pred(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
  }

  /** Resolves with the first log line (past or future) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    if (this.#closed) return Promise.reject(new Error(`${this.#closed}. Output:\n${this.output()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms. Output:\n${this.output()}`));
      }, timeoutMs);
      this.#waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  waitForMessage(text: string, timeoutMs?: number): Promise<LogLine> {
    return this.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes(text), timeoutMs);
  }

  output(): string {
    return this.raw.slice(-60).join('\n');
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Tracks every process a test starts, so `stopAll()` in `after` leaves none behind. */
export class ProcessGroup {
  readonly all: CenterProcess[] = [];

  constructor(private readonly baseEnv: NodeJS.ProcessEnv) {}

  start(kind: keyof typeof ENTRIES, env: NodeJS.ProcessEnv = {}, args: string[] = []): CenterProcess {
    const p = new CenterProcess(`${kind}#${this.all.length}`, ENTRIES[kind], { ...this.baseEnv, ...env }, args);
    this.all.push(p);
    return p;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop(5000)));
  }
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
