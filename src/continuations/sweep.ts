import { release } from './release.js';
import { runScript } from './scripts.js';
import type { ContinuationDeps } from './types.js';

const LEASE_MS = 30_000;
const BATCH = 200;
/** An unfinished parent is re-checked after twice its age, within these bounds. */
const MIN_RECHECK_MS = 60_000;
const MAX_RECHECK_MS = 3_600_000;

/**
 * The safety net behind the worker's own release: checks only the parents that are DUE — one
 * that a worker saw finish (it marks it due before BullMQ stores the outcome, so a crash right
 * after loses nothing), a new registration (checked once, 2 s later, in case a worker finished the
 * parent just before it heard of the registration), and, rarely, a parent still waiting (re-checked
 * with a backoff of twice its age, up to an hour, so a deleted parent still cancels its
 * continuations). A pass costs one ZRANGEBYSCORE per queue when nothing changed, whatever the
 * number of pending continuations. Returns the number of parents checked.
 */
export async function sweep(deps: ContinuationDeps): Promise<number> {
  const { queues, keys, logger } = deps;
  let checked = 0;
  for (const queue of queues.all()) {
    const pq = queue.name;
    for (;;) {
      const now = Date.now();
      const leaseUntil = now + LEASE_MS;
      const ids = (await runScript(queues.redis, 'jcContClaim', [keys.due(pq)], [now, leaseUntil, BATCH])) as string[];
      for (const id of ids) {
        try {
          const finished = await release(deps, { queue: pq, id });
          if (!finished) {
            await runScript(queues.redis, 'jcContReschedule', [keys.due(pq), keys.pending(pq)], [id, leaseUntil, Date.now(), MIN_RECHECK_MS, MAX_RECHECK_MS]);
          }
        } catch (err) {
          logger.warn({ parent: `${pq}/${id}`, err: (err as Error).message }, 'Continuation check failed; retried after the lease');
        }
        checked++;
      }
      if (ids.length < BATCH) break;
    }
  }
  return checked;
}
