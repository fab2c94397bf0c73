import type { JobsOptions } from 'bullmq';
import { Batches, thenId } from '../batches/batches.js';
import { NotFoundError } from '../errors.js';
import { checkPayload } from '../jobs/contract.js';
import { jobOptions } from '../jobs/options.js';
import { registerWatch } from './registration.js';
import type { ContinuationDeps, ContinueOn, JobRef } from './types.js';

/*
 * A continuation after several parents (`after: [a, b, …]`): a join. It is a batch (batches.ts)
 * whose members are the parents, jobs that already exist, plus a watch on each parent, registered
 * like a continuation (registration.ts), whose release reports the parent's outcome to the batch.
 * So the parent's worker reports at once, the continuation sweep covers a worker that crashed, a
 * parent that had already finished is reported while registering, and the batch adds the
 * continuation (id `batthen-<join id>`) exactly once after the last report. Every step keeps to one
 * slot (the parent queue's, or the batch's own), so it works on a Cluster.
 */

export interface Joined {
  /** The join's id: `GET /api/batches/<join>` shows its progress. */
  readonly join: string;
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  readonly state: string;
  readonly duplicate?: boolean;
}

/**
 * Registers `name(data)` to run once after every one of `parents` (BullMQ queues: shards where
 * sharded) finished: on `success` only if all completed (else it ends failed, cancelled), on
 * `finished` in any case. `joinId` is the idempotency key: a retry registers nothing new.
 * @throws NotFoundError when a parent does not exist; then nothing will run.
 */
export async function join(
  deps: ContinuationDeps,
  parents: readonly JobRef[],
  name: string,
  data: unknown,
  options: { on: ContinueOn; joinId: string; opts?: JobsOptions },
): Promise<Joined> {
  const { queues, logger } = deps;
  const contract = queues.catalog.contractFor(name);
  const payload = checkPayload(contract, data);
  const members = [...new Set(parents.map((p) => `${p.queue}/${p.id}`))];
  const batches = new Batches(queues, logger);
  const then = { queue: contract.queue, name: contract.name, data: payload, opts: jobOptions(contract, options.opts) };
  // The batch first: a watch of a parent that already finished reports while registering.
  const created = await batches.openOnce(options.joinId, { members, on: options.on, then });
  try {
    for (const p of parents) await registerWatch(deps, p, options.joinId);
  } catch (err) {
    if (err instanceof NotFoundError && created) await batches.withdraw(options.joinId, err.message);
    throw err;
  }
  const status = await batches.status(options.joinId);
  const state = status?.then?.state ?? 'awaiting';
  return { join: options.joinId, id: thenId(options.joinId), queue: contract.queue, name: contract.name, state, ...(created ? {} : { duplicate: true }) };
}
