#!/usr/bin/env node
import 'dotenv/config';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { importCatalog } from '../jobs/catalog.js';
import type { ContractMap } from '../jobs/contract.js';
import { run } from './run.js';

// Entry of the `job-center` command (`npm run cli -- <command>` in this repository); see run.ts
// and `--help`. The job catalog is the module JOB_CATALOG names (its `jobs` export).

/** This package's version: the nearest package.json named job-center above this file (src/ or dist/src/). */
function packageVersion(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'job-center') return pkg.version;
    } catch {
      // Not here: one folder up.
    }
  }
  return undefined;
}

let code: number;
let contracts: ContractMap | undefined;
try {
  contracts = process.env.JOB_CATALOG ? await importCatalog(process.env.JOB_CATALOG) : undefined;
  code = await run(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
    {
      ...(contracts ? { contracts } : {}),
      ...(packageVersion() ? { version: packageVersion() } : {}),
      // `npm run cli` in this repository; anywhere else the installed command.
      invokedAs: process.env.npm_lifecycle_event === 'cli' ? 'npm run cli --' : 'job-center',
    },
  );
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  code = 1;
}
// Exit only once stdout has drained (it may be a pipe).
process.stdout.write('', () => process.exit(code));
