import { existsSync, readFileSync } from 'node:fs';

/** Handler executions read back from a recording worker's FAULT_LOG. */
export interface Executions {
  /** job key (queue/id) → pids that finished it, in order */
  done: Map<string, number[]>;
  /** job key → pids that started it */
  started: Map<string, number[]>;
}

export function readExecutions(file: string): Executions {
  const done = new Map<string, number[]>();
  const started = new Map<string, number[]>();
  if (!existsSync(file)) return { done, started };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [kind, key, pid] = line.split(' ');
    if (!key || !pid) continue;
    const map = kind === 'done' ? done : started;
    map.set(key, [...(map.get(key) ?? []), Number(pid)]);
  }
  return { done, started };
}

/**
 * Classifies jobs that finished more than once: a second finish is allowed by at-least-once
 * delivery only when the first finisher was killed (it ran the handler but died before BullMQ
 * recorded the completion); anything else is a real duplicate.
 */
export function duplicates(ex: Executions, killed: ReadonlySet<number>): { duplicated: string[]; rerunAfterKill: string[] } {
  const duplicated: string[] = [];
  const rerunAfterKill: string[] = [];
  for (const [key, pids] of ex.done) {
    if (pids.length < 2) continue;
    if (pids.slice(0, -1).every((p) => killed.has(p))) rerunAfterKill.push(key);
    else duplicated.push(key);
  }
  return { duplicated, rerunAfterKill };
}
