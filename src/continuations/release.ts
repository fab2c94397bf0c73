import type { JobsOptions } from 'bullmq';
import { crashPoint } from './crash-points.js';
import { runScript } from './scripts.js';
import { Batches } from '../batches/batches.js';
import { KEEP_SECONDS, WATCH_QUEUE, type ContinuationDeps, type ContinuationMeta, type JobRef, type Outcome, type ParentOutcome } from './types.js';

/**
 * Releases the continuations of `parent` if it has finished; returns whether it had.
 *
 * 1. one script over the parent queue's slot reads the parent's outcome and marks its awaiting
 *    continuations released (or cancelled: `on: success` after a failure) — atomic;
 * 2. each continuation is added to its queue with its deterministic `cont-…` id, carrying the
 *    parent's outcome in `opts.jc` (a second add of the same id is ignored by BullMQ);
 * 3. the parent leaves the pending and due sets, workers are told to forget it.
 *
 * A crash after 1 leaves the parent due: the sweep repeats 1, which returns the continuations that
 * are marked but have not started yet, and 2-3. A continuation marks itself started before its
 * handler runs, so a repeat never re-adds one that ran and was removed by retention.
 *
 * `hint` is the outcome the worker just saw, used only when retention removed the parent job in
 * the very step that finished it.
 */
export async function release(deps: ContinuationDeps, parent: JobRef, hint?: Outcome): Promise<boolean> {
  const { config, queues, keys, logger } = deps;
  const pq = parent.queue;
  const redis = queues.redis;
  const reply = (await runScript(
    redis,
    'jcContRelease',
    [keys.links(pq, parent.id), keys.bull(pq, parent.id), keys.bull(pq, 'completed'), keys.bull(pq, 'failed'), keys.pointer(pq, parent.id)],
    [
      parent.id,
      keys.specPrefix(pq),
      hint?.state ?? '',
      hint ? JSON.stringify(hint.returnValue ?? null) : 'null',
      hint?.failedReason ?? '',
    ],
  )) as string[];
  if (reply[0] !== 'finished') return false;
  crashPoint(config, 'release:after-mark');
  const outcome: ParentOutcome = {
    // Handlers see the logical queue; `parentQueue` below keeps the shard, where the spec lives.
    queue: queues.logicalOf(pq).queue,
    id: parent.id,
    state: reply[1] as ParentOutcome['state'],
    returnValue: parseJson(reply[2]),
    failedReason: reply[3] ? reply[3] : null,
  };
  const released: { queue: string; id: string }[] = [];
  const watches: string[] = [];
  const adds: Promise<unknown>[] = [];
  for (let i = 4; i + 6 <= reply.length; i += 6) {
    const [cq, cid, name, data, opts, state] = reply.slice(i, i + 6) as [string, string, string, string, string, string];
    if (cq === WATCH_QUEUE) {
      watches.push(cid);
      continue;
    }
    const cancelled = state === 'cancelled';
    const meta: ContinuationMeta = {
      parent: outcome,
      ...(pq !== outcome.queue ? { parentQueue: pq } : {}),
      ...(cancelled
        ? {
            cancelled: `Cancelled: parent job ${outcome.queue}/${parent.id} ${outcome.state === 'missing' ? 'no longer exists' : `failed (${outcome.failedReason ?? 'no reason'})`} and this continuation runs on success only`,
          }
        : {}),
    };
    // A cancelled continuation is still added, so that it shows up failed with its reason (on the
    // board too) instead of waiting forever; the worker fails it without running the handler.
    const jobOpts = { ...(JSON.parse(opts) as JobsOptions), jobId: cid, ...(cancelled ? { attempts: 1 } : {}), jc: meta };
    adds.push(queues.get(cq).add(name, JSON.parse(data), jobOpts as JobsOptions));
    released.push({ queue: cq, id: cid });
  }
  // A join counts each parent once (its done set), so reporting again after a crash changes nothing.
  if (watches.length > 0) {
    const joined = outcome.state === 'completed' ? 'completed' : 'failed';
    const joins = new Batches(queues, logger);
    // A watch's id is `<join>@<parent id>`; join ids have no '@'.
    for (const watchId of watches) adds.push(joins.record(watchId.slice(0, watchId.indexOf('@')), `${pq}/${parent.id}`, joined));
  }
  await Promise.all(adds);
  crashPoint(config, 'release:after-add');
  await cleanup(deps, parent, released, watches);
  if (released.length > 0) {
    logger.debug({ parent: `${pq}/${parent.id}`, continuations: released.map((r) => `${r.queue}/${r.id}`) }, 'Continuations released');
  }
  return true;
}

/** Step 3: forget the parent (its own slot, one transaction), mark the pointers released. */
async function cleanup(deps: ContinuationDeps, parent: JobRef, released: readonly JobRef[], watches: readonly string[]): Promise<void> {
  const { queues, keys } = deps;
  const pq = parent.queue;
  const tx = queues.redis
    .multi()
    .hdel(keys.pending(pq), parent.id)
    .zrem(keys.due(pq), parent.id)
    .expire(keys.links(pq, parent.id), KEEP_SECONDS);
  for (const c of released) tx.expire(keys.spec(pq, c.queue, c.id), KEEP_SECONDS);
  for (const watchId of watches) tx.expire(keys.spec(pq, WATCH_QUEUE, watchId), KEEP_SECONDS);
  tx.publish(keys.channel, `-${pq}/${parent.id}`);
  await Promise.all([
    tx.exec(),
    // In the continuation's slot: a parent check (is it an awaiting continuation?) now looks at its job.
    ...released.map((c) => queues.redis.set(keys.pointer(c.queue, c.id), 'released', 'EX', KEEP_SECONDS)),
  ]);
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
