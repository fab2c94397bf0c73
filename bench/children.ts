import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Counts, FromChild, Samples, ToChild, WorkerKind } from './protocol.js';
import { ROOT } from './root.js';

const HERE = dirname(fileURLToPath(import.meta.url));

type Started = Extract<FromChild, { type: 'started' }>;

/** A worker child process as the bench parent sees it: spawn, steer, measure, stop. */
export class WorkerChild {
  readonly proc: ChildProcess;
  /** Resolves with the child's RSS right after its worker is ready. */
  readonly ready: Promise<number>;
  readonly #output: string[] = [];
  readonly #pending = new Map<number, { resolve: (m: { counts?: Counts; samples?: Samples }) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Set<(m: Started) => void>();
  #seq = 0;
  readonly #exited: Promise<void>;

  constructor(
    readonly kind: WorkerKind,
    readonly label: string,
    env: { url: string; prefix: string; concurrency: number; cpuProfDir?: string; childImport?: string; compiled: boolean; metrics: boolean },
  ) {
    // Compiled: plain `node` on dist/ (what the Docker image runs), no TypeScript loader in the process.
    const execArgv = env.compiled ? [] : ['--import', 'tsx'];
    // A module loaded before the worker starts: a way to measure a patch without editing src/.
    if (env.childImport) execArgv.push('--import', env.childImport);
    if (env.cpuProfDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', env.cpuProfDir, '--cpu-prof-name', `${label}.cpuprofile`);
    const entry = env.compiled ? resolve(ROOT, 'dist', 'bench', 'worker-child.js') : resolve(HERE, 'worker-child.ts');
    this.proc = spawn(process.execPath, [...execArgv, entry], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        BENCH_KIND: kind,
        BENCH_REDIS_URL: env.url,
        BENCH_PREFIX: env.prefix,
        BENCH_CONCURRENCY: String(env.concurrency),
        BENCH_METRICS: env.metrics ? 'true' : 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (chunk: Buffer) => {
      this.#output.push(chunk.toString());
      if (this.#output.length > 50) this.#output.shift();
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.#exited = new Promise((r) => this.proc.once('exit', () => r()));
    this.ready = new Promise((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} not ready within 60 s:\n${this.output()}`)), 60_000);
      this.proc.once('exit', (code) => {
        clearTimeout(timer);
        const err = new Error(`${label} exited (code ${code}):\n${this.output()}`);
        reject(err);
        for (const p of this.#pending.values()) p.reject(err);
      });
      this.proc.on('message', (msg: FromChild & { error?: string }) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolveReady(msg.rss);
        } else if (msg.type === 'started') {
          for (const l of this.#listeners) l(msg);
        } else if (msg.type === 'reply') {
          const p = this.#pending.get(msg.seq);
          this.#pending.delete(msg.seq);
          if (msg.error) p?.reject(new Error(`${label}: ${msg.error}`));
          else p?.resolve(msg);
        }
      });
    });
    this.ready.catch(() => {});
  }

  output(): string {
    return this.#output.join('').slice(-4000);
  }

  request(msg: ToChild): Promise<{ counts?: Counts; samples?: Samples }> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      this.proc.send({ ...msg, seq });
    });
  }

  async counts(): Promise<Counts> {
    return (await this.request({ type: 'count' })).counts!;
  }

  async collect(): Promise<Samples> {
    return (await this.request({ type: 'collect' })).samples!;
  }

  async reset(): Promise<void> {
    await this.request({ type: 'reset' });
  }

  async setConcurrency(n: number): Promise<void> {
    await this.request({ type: 'concurrency', n });
  }

  async notify(on: boolean): Promise<void> {
    await this.request({ type: 'notify', on });
  }

  /** Resolves with the first `started` notification matching `pred` (enable `notify` first). */
  waitStarted(pred: (m: Started) => boolean, timeoutMs = 30_000): Promise<Started> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(new Error(`${this.label}: no matching job started within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (m: Started) => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(m);
      };
      this.#listeners.add(listener);
    });
  }

  /** Graceful stop over IPC; SIGKILL if it does not exit within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    try {
      if (this.proc.connected) await Promise.race([this.request({ type: 'stop' }), this.#exited]);
    } catch {
      // exiting anyway
    }
    await this.#exited;
    clearTimeout(timer);
  }
}
