import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { NotFoundError, ValidationError } from '../errors.js';
import { checkPayload } from '../jobs/contract.js';
import { jobOptions, validateJobId } from '../jobs/options.js';
import { crashPoint } from './crash-points.js';
import { release } from './release.js';
import { runScript } from './scripts.js';
import { CONTINUATION_PREFIX, KEEP_SECONDS, WATCH_QUEUE, type ContinuationDeps, type ContinueOn, type JobRef } from './types.js';
import { pointerOf } from './pointer.js';

/** How soon the sweep double-checks a new registration (it covers a worker that finished the
 * parent just before it heard of the registration). */
const FIRST_CHECK_MS = 2000;

export interface Registered {
  id: string;
  queue: string;
  name: string;
  state: string;
  duplicate?: boolean;
}

/**
 * Registers `name(data)` to run after `parent` finishes, in ONE script over the parent queue's slot:
 * the spec, the link, the pending and due entries and the announcement to workers are written
 * together, and the parent's state is read in the same step. A parent that already finished is
 * released right here, so a worker that never heard of the registration loses nothing.
 *
 * A crash before the script leaves nothing; after it, a complete registration (the sweep releases
 * it if the parent had finished). Retrying with the same key reports the complete one as a
 * duplicate. A continuation in another queue than its parent also gets a pointer in its own
 * queue's slot, written first (alone it is invisible: nothing reads it without the spec).
 */
export async function register(
  deps: ContinuationDeps,
  parent: JobRef,
  name: string,
  data: unknown,
  options: { on?: ContinueOn; key?: string; opts?: JobsOptions } = {},
): Promise<Registered> {
  const { config, queues, keys } = deps;
  const contract = queues.catalog.contractFor(name);
  const payload = checkPayload(contract, data);
  const on = options.on ?? 'success';
  if (on !== 'success' && on !== 'finished') {
    throw new ValidationError('on must be "success" or "finished"', [{ field: 'on', message: 'on must be "success" or "finished"' }]);
  }
  queues.get(parent.queue);
  const id = CONTINUATION_PREFIX + (options.key ? validateJobId(options.key) : randomUUID());
  // The BullMQ queue the continuation will be added to: on a sharded queue, the shard of its id.
  const cq = queues.forJob(contract.queue, id).name;
  const pq = parent.queue;
  const redis = queues.redis;
  if (options.key !== undefined && queues.isSharded(contract.queue)) {
    // Registered under another K, on another shard: the same key must not register it twice.
    const earlier = await pointerOf(deps, contract.queue, id);
    if (earlier && earlier.queue !== cq) return duplicateOf(deps, { queue: earlier.queue, id }, earlier.parentQueue, contract.name);
  }
  // Same queue: one script writes everything. Another queue may be another slot (on a Cluster),
  // so its pointer is written first, on every deployment alike (one behaviour to test).
  const pointerInSlot = cq === pq;
  if (!pointerInSlot) {
    const pointer = keys.pointer(cq, id);
    // With a TTL until the registration is complete (a crash before it must not leave a key forever);
    // then without: an awaiting continuation's pointer must outlive any delay of its parent.
    const set = await redis.set(pointer, pq, 'EX', KEEP_SECONDS, 'NX');
    if (set !== 'OK') {
      const owner = await redis.get(pointer);
      if (owner && owner !== pq) return duplicateOf(deps, { queue: cq, id }, owner, contract.name);
    }
    crashPoint(config, 'register:after-pointer');
  }
  const reply = await runRegister(
    deps,
    parent,
    { queue: cq, id },
    { name: contract.name, data: JSON.stringify(payload), opts: JSON.stringify(jobOptions(contract, options.opts)), on },
    pointerInSlot,
  );
  crashPoint(config, 'register:after-script');
  if (!pointerInSlot && (reply[0] === 'created' || (reply[0] === 'duplicate' && reply[1] === 'awaiting'))) await redis.persist(keys.pointer(cq, id));
  switch (reply[0]) {
    case 'missing':
      throw new NotFoundError(`Parent job ${pq}/${parent.id} does not exist`);
    case 'duplicate-elsewhere':
      return duplicateOf(deps, { queue: cq, id }, reply[1]!, contract.name);
    case 'duplicate': {
      const state = reply[1] === 'awaiting' ? 'awaiting' : await queues.get(cq).getJobState(id);
      return { id, queue: cq, name: reply[2] ?? contract.name, state, duplicate: true };
    }
  }
  if (reply[1] === 'completed' || reply[1] === 'failed') {
    await release(deps, parent);
    return { id, queue: cq, name: contract.name, state: 'waiting' };
  }
  return { id, queue: cq, name: contract.name, state: 'awaiting' };
}

/** The continuation `ref` already registered on a parent of queue `parentQueue`. */
async function duplicateOf(deps: ContinuationDeps, ref: JobRef, parentQueue: string, fallbackName: string): Promise<Registered> {
  const [state, name] =
    parentQueue === 'released' ? [null, null] : await deps.queues.redis.hmget(deps.keys.spec(parentQueue, ref.queue, ref.id), 'state', 'name');
  const shown = state === 'awaiting' ? 'awaiting' : await deps.queues.get(ref.queue).getJobState(ref.id);
  return { id: ref.id, queue: ref.queue, name: name ?? fallbackName, state: shown, duplicate: true };
}

/**
 * Registers a watch of `parent` for the join `joinId`: the same script and bookkeeping as a
 * continuation (so the worker's in-memory set, the release and the sweep cover it alike), but its
 * release reports the parent's outcome to the join instead of adding a job. Registering it twice
 * registers it once. A parent that already finished is released (reported) right here.
 * @throws NotFoundError when the parent does not exist.
 */
export async function registerWatch(deps: ContinuationDeps, parent: JobRef, joinId: string): Promise<void> {
  const pq = parent.queue;
  // One watch per parent (two parents may share a queue, hence a spec key): `<join>@<parent id>`.
  const watch = { queue: WATCH_QUEUE, id: `${joinId}@${parent.id}` };
  const reply = await runRegister(deps, parent, watch, { name: WATCH_QUEUE, data: 'null', opts: '{}', on: 'finished' }, false);
  if (reply[0] === 'missing') throw new NotFoundError(`Parent job ${pq}/${parent.id} does not exist`);
  if (reply[0] === 'duplicate') {
    // Registered before (a retry): it may have been released already; a release reports once per parent anyway.
    return;
  }
  if (reply[1] === 'completed' || reply[1] === 'failed') await release(deps, parent);
}

/**
 * The registration script for one entry (`entry`: a continuation, or a watch) on `parent`: its spec
 * with the link, the pending and due entries and the announcement, in the parent queue's slot.
 * `pointer`: also claim the entry's pointer key (same slot only). Returns the script's reply.
 */
async function runRegister(
  deps: ContinuationDeps,
  parent: JobRef,
  entry: JobRef,
  fields: { name: string; data: string; opts: string; on: ContinueOn },
  pointer: boolean,
): Promise<string[]> {
  const { queues, keys } = deps;
  const pq = parent.queue;
  const now = Date.now();
  const spec = ['name', fields.name, 'data', fields.data, 'opts', fields.opts, 'on', fields.on, 'parentQueue', pq, 'parentId', parent.id, 'state', 'awaiting', 'createdAt', String(now)];
  return (await runScript(
    queues.redis,
    'jcContRegister',
    [
      keys.spec(pq, entry.queue, entry.id),
      keys.links(pq, parent.id),
      keys.pending(pq),
      keys.due(pq),
      keys.bull(pq, parent.id),
      keys.bull(pq, 'completed'),
      keys.bull(pq, 'failed'),
      keys.pointer(pq, parent.id),
      ...(pointer ? [keys.pointer(entry.queue, entry.id)] : []),
    ],
    [`${entry.queue}/${entry.id}`, parent.id, now, now + FIRST_CHECK_MS, keys.channel, `+${pq}/${parent.id}`, pq, ...spec],
  )) as string[];
}
