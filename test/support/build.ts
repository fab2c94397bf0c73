import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/*
 * The compiled build (dist/, `npm run build`) that tests run their center processes from (see
 * nodeCommand in processes.ts). `npm test`, `test:one` and `test:faults` run this file first (their
 * pre-scripts): it compiles only when a source is newer than its output, so a rerun costs nothing.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The folders `npm run build` compiles (tsconfig.build.json's include). */
export const BUILT_DIRS = ['src', 'contracts', 'workers', 'producers', 'server'] as const;

/** Every .ts file of the build whose .js in dist/ is missing or older than it. */
export function staleSources(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  for (const d of BUILT_DIRS) walk(d);
  return stale;
}

/** Runs `npm run build`'s compiler when dist/ is stale. */
export async function ensureBuilt(): Promise<void> {
  if (staleSources().length === 0) return;
  await promisify(execFile)(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    timeout: 180_000,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await ensureBuilt();
