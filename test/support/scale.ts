import type { CenterProcess } from './processes.js';


/**
 * Executions of hello-world jobs, read from the handler's own log line ("Hello World! ...", which
 * carries the job id): job id → names of the processes that ran it, in order.
 */
export function helloRuns(workers: readonly CenterProcess[]): Map<string, string[]> {
  const runs = new Map<string, string[]>();
  for (const w of workers) {
    for (const line of w.lines) {
      if (typeof line.msg === 'string' && line.msg.startsWith('Hello World!') && line.job !== undefined) {
        const id = String(line.job);
        runs.set(id, [...(runs.get(id) ?? []), w.name]);
      }
    }
  }
  return runs;
}

/** Tick times (ms) of a schedule's jobs among `runs`, sorted; job ids are `repeat:<schedule>:<ms>`. */
export function ticksOf(runs: ReadonlyMap<string, unknown>, schedule: string): number[] {
  const prefix = `repeat:${schedule}:`;
  return [...runs.keys()]
    .filter((id) => id.startsWith(prefix))
    .map((id) => Number(id.slice(prefix.length)))
    .sort((a, b) => a - b);
}

/** Seconds missing between the first and the last tick of a per-second schedule. */
export function missingSeconds(ticks: readonly number[]): number[] {
  const missing: number[] = [];
  for (let i = 1; i < ticks.length; i++) {
    for (let t = ticks[i - 1]! + 1000; t < ticks[i]!; t += 1000) missing.push(t);
  }
  return missing;
}

/** Jobs that ran more than once: "id ran N times (where)". */
export function duplicateRuns(runs: ReadonlyMap<string, readonly string[]>): string[] {
  return [...runs].filter(([, where]) => where.length > 1).map(([id, where]) => `${id} ran ${where.length} times (${where.join(', ')})`);
}

/** The port a server process listens on (start it with PORT=0). */
export async function serverPort(server: CenterProcess, timeoutMs = 20_000): Promise<number> {
  const line = await server.waitForMessage('Server listening', timeoutMs);
  return Number(line.port);
}

export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
