import type { ContinuationDeps } from './types.js';

/**
 * Where continuation `id` of queue `queue` is registered: the BullMQ queue (a sharded queue's
 * shard) whose pointer key names it, and the pointer's value (its parent's BullMQ queue, or
 * `released`). The shard of its id under this process's K is read first; on a sharded queue the
 * other consumed shards next, for a continuation registered under another K (changing K must not
 * hide, duplicate or strand one).
 */
export async function pointerOf(deps: ContinuationDeps, queue: string, id: string): Promise<{ queue: string; parentQueue: string } | undefined> {
  const { queues, keys } = deps;
  const first = queues.forJob(queue, id).name;
  const value = await queues.redis.get(keys.pointer(first, id));
  if (value) return { queue: first, parentQueue: value };
  if (!queues.isSharded(queue)) return undefined;
  for (const shard of queues.shardsOf(queue)) {
    if (shard.name === first) continue;
    const other = await queues.redis.get(keys.pointer(shard.name, id));
    if (other) return { queue: shard.name, parentQueue: other };
  }
  return undefined;
}
