import { request, type IncomingHttpHeaders } from 'node:http';
import type { CenterProcess, LogLine, ProcessGroup } from './support/processes.js';

/** Helpers shared by the board, metrics and browser tests (not a test file itself). */

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json<T = unknown>(): T;
}

export interface HttpOptions {
  method?: string;
  /** `{ user, password }` for basic auth, or a string for `Bearer <token>`. */
  auth?: { user: string; password: string } | string;
  body?: unknown;
  /**
   * Source address of the connection (any 127.x.y.z works on Linux loopback). The failed-login
   * limit is per address, so a test that trips it uses its own address and leaves the rest alone.
   */
  from?: string;
  headers?: Record<string, string>;
}

export function http(url: string, options: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (typeof options.auth === 'string') headers.authorization = `Bearer ${options.auth}`;
  else if (options.auth) {
    headers.authorization = `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}`;
  }
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers, localAddress: options.from ?? '127.0.0.1' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }),
      );
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: no answer within 15 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Starts `npm run server` with `env` (PORT=0: a free port) and resolves once it listens. */
export async function startServer(group: ProcessGroup, env: NodeJS.ProcessEnv): Promise<{ proc: CenterProcess; base: string }> {
  const proc = group.start('server', { HOST: '127.0.0.1', PORT: '0', ...env });
  // Generous: on a loaded 2-core CI machine, tsx compiling a server while others start takes tens of seconds.
  const line = await proc.waitForMessage('Server listening', 90_000);
  return { proc, base: `http://127.0.0.1:${String(line.port)}` };
}

/** Audit records a process has logged so far. */
export function auditLines(proc: { readonly lines: readonly LogLine[] }): LogLine[] {
  return proc.lines.filter((l) => l.audit === true);
}

/**
 * Checks the Prometheus text exposition format (0.0.4): every sample line is
 * `name{labels} value`, every family has exactly one HELP and one TYPE before its samples.
 * Returns the samples as `name{labels}` → value.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const help = new Set<string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const seen = kind === 'HELP' ? help.has(name) : type.has(name);
      if (seen) throw new Error(`duplicate ${kind} for ${name}`);
      if (kind === 'HELP') help.add(name);
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad TYPE ${rest}`);
        type.set(name, rest);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/i.exec(line);
    // Case-insensitive: Prometheus parses values with Go's ParseFloat, and prom-client writes "Nan".
    if (!m) throw new Error(`not a valid sample line: ${JSON.stringify(line)}`);
    const [, name, labels = ''] = m as unknown as [string, string, string | undefined];
    // A histogram's or summary's samples carry a suffix after the family name.
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const family = type.has(name) ? name : ['histogram', 'summary'].includes(type.get(base) ?? '') ? base : name;
    if (!type.has(family) || !help.has(family)) throw new Error(`sample ${name} before its HELP/TYPE`);
    samples.set(`${name}${labels}`, Number(m[3]));
  }
  return samples;
}
