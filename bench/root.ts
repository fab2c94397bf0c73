import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, whether the bench runs from its sources (`bench/`, under tsx) or compiled
 * (`dist/bench/`, how `npm run bench` runs it by default): the nearest folder up with a package.json.
 */
export const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('bench: no package.json above bench/; run it from the repository');
    dir = up;
  }
  return dir;
})();

/** True when this process runs the compiled bench (dist/bench/…). */
export const RUNNING_COMPILED = fileURLToPath(import.meta.url).startsWith(join(ROOT, 'dist') + '/');
