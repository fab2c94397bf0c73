import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, ValidationError } from '../errors.js';
import { declaredShards, type ContractMap, type JobContract } from './contract.js';

/** Names for an error message, or, when there are none because no catalog was given, how to give one. */
export function knownOrHint(names: readonly string[]): string {
  return names.join(', ') || '(none: no job catalog was given; set JOB_CATALOG to a module that exports `jobs`)';
}

/**
 * The job types one deployment knows: a service's own contracts, injected into the client
 * (`createClient({ contracts })`), the worker runtime, the producer and the server. The library
 * itself knows none; this repository's demo jobs (contracts/) are the default catalog of its
 * `npm start` app only.
 */
export class JobCatalog<C extends ContractMap = ContractMap> {
  /** Every queue some contract declares, in first-declared order. */
  readonly queueNames: readonly string[];
  /** Shards per queue as the contracts declare them (1 where none does). */
  readonly shards: Readonly<Record<string, number>>;

  constructor(readonly contracts: C) {
    for (const [key, c] of Object.entries(contracts)) {
      if (!c || typeof c !== 'object' || typeof c.name !== 'string' || typeof c.queue !== 'string' || !c.schema) {
        throw new Error(`Expected the catalog entry "${key}" to be a contract made by defineJob(), got ${typeof c}`);
      }
      if (c.name !== key) throw new Error(`Expected the catalog entry "${key}" to hold the contract of that name, got "${c.name}"`);
    }
    this.queueNames = [...new Set(Object.values(contracts).map((c) => c.queue))];
    this.shards = declaredShards(contracts);
  }

  /** Job names, in declared order. */
  get names(): string[] {
    return Object.keys(this.contracts);
  }

  /**
   * The contract registered under `name`.
   * @throws ValidationError (field `name`) listing the known job names.
   */
  contractFor(name: unknown): JobContract {
    const contract = typeof name === 'string' && Object.hasOwn(this.contracts, name) ? this.contracts[name] : undefined;
    if (!contract) {
      const known = knownOrHint(this.names);
      throw new ValidationError(`Unknown job name ${JSON.stringify(name)}; known jobs: ${known}`, [
        { field: 'name', message: `name must be one of: ${known}` },
      ]);
    }
    return contract;
  }
}

/** The catalog of a process given none: it can read and manage jobs, but enqueue none. */
export const EMPTY_CATALOG = new JobCatalog({});

/**
 * Imports a catalog module (`JOB_CATALOG`): its `jobs` export, or its default export, is the
 * contract map (name → contract, as `defineJob` makes them).
 * @throws ConfigError naming JOB_CATALOG when the module cannot be loaded or exports no contracts.
 */
export async function importCatalog(specifier: string, cwd = process.cwd()): Promise<ContractMap> {
  const bad = (why: string) =>
    new ConfigError([
      { field: 'JOB_CATALOG', message: `JOB_CATALOG=${JSON.stringify(specifier)} ${why}; it must name a module (a path) that exports \`jobs\`: { [name]: defineJob(...) }` },
    ]);
  const url = /^[a-z]+:/i.test(specifier) ? specifier : pathToFileURL(isAbsolute(specifier) ? specifier : resolve(cwd, specifier)).href;
  let mod: { jobs?: unknown; default?: unknown };
  try {
    mod = (await import(url)) as typeof mod;
  } catch (err) {
    throw bad(`could not be loaded (${(err as Error).message.split('\n')[0]})`);
  }
  const map = mod.jobs ?? mod.default;
  if (!map || typeof map !== 'object') throw bad('exports neither `jobs` nor a default contract map');
  try {
    new JobCatalog(map as ContractMap);
  } catch (err) {
    throw bad(`is not a contract map (${(err as Error).message})`);
  }
  return map as ContractMap;
}
