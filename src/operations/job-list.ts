import type { Job, JobType } from 'bullmq';
import type { Queues } from '../queues.js';
import { LISTABLE_STATES, type JobList, type JobListQuery } from '../schemas/operations.js';
import { toInfo } from './job-info.js';

/** How many of the most recent jobs per queue and state a search looks at. */
export const SCAN_PER_STATE = 2000;

interface Found {
  job: Job;
  /** The BullMQ queue (a shard's name, `batch.2`, on a sharded queue): orders the page and names the cursor. */
  queue: string;
  state: string;
}

/** `a` sorts before `b`: newer first, then by queue and id so the order is total (stable cursors). */
function newerFirst(a: { ts: number; queue: string; id: string }, b: { ts: number; queue: string; id: string }): number {
  return b.ts - a.ts || a.queue.localeCompare(b.queue) || b.id.localeCompare(a.id);
}

const keyOf = (f: Found) => ({ ts: f.job.timestamp, queue: f.queue, id: String(f.job.id) });

/**
 * Lists jobs newest first (by creation time) with keyset pagination: the cursor is the last
 * job's (time, queue, id), so pages neither skip nor repeat jobs while others are added. Reads
 * the {@link SCAN_PER_STATE} most recent jobs of each queue and state with BullMQ's `getJobs`.
 */
export async function listJobs(queues: Queues, query: Omit<JobListQuery, 'limit'> & { limit: number }): Promise<JobList> {
  // A logical queue is every shard of it (get() would read shard 0 only: a sharded queue's other
  // shards were never listed); a shard's own name (`batch.2`, as the board shows it) is that shard.
  const targets =
    query.queue === undefined ? queues.all() : queues.logicalOf(query.queue).queue === query.queue ? queues.shardsOf(query.queue) : [queues.get(query.queue)];
  const names = targets.map((q) => q.name);
  const states = query.state !== undefined ? [query.state] : [...LISTABLE_STATES];
  const from = query.from !== undefined ? Date.parse(query.from) : -Infinity;
  const to = query.to !== undefined ? Date.parse(query.to) : Infinity;
  let after: { ts: number; queue: string; id: string } | undefined;
  if (query.cursor !== undefined) {
    const [ts, queue, id] = query.cursor.split('~') as [string, string, string];
    after = { ts: Number(ts), queue: decodeURIComponent(queue), id: decodeURIComponent(id) };
  }
  const found: Found[] = [];
  await Promise.all(
    names.flatMap((name) =>
      states.map(async (state) => {
        const jobs = await queues.get(name).getJobs([state as JobType], 0, SCAN_PER_STATE - 1, false);
        for (const job of jobs) {
          if (!job) continue;
          if (query.name !== undefined && job.name !== query.name) continue;
          if (job.timestamp < from || job.timestamp >= to) continue;
          if (after && newerFirst(after, keyOf({ job, queue: name, state })) >= 0) continue;
          found.push({ job, queue: name, state });
        }
      }),
    ),
  );
  found.sort((a, b) => newerFirst(keyOf(a), keyOf(b)));
  const page = found.slice(0, query.limit);
  const last = page[page.length - 1];
  const nextCursor =
    found.length > query.limit && last ? `${last.job.timestamp}~${encodeURIComponent(last.queue)}~${encodeURIComponent(String(last.job.id))}` : null;
  // Reported as getJob reports a job: by its logical queue, with its shard when the queue is sharded
  // (the shard's BullMQ name, `batch.2`, listed jobs under a queue no other answer names).
  const info = (f: Found) => {
    const { queue, shard } = queues.logicalOf(f.queue);
    return { ...toInfo(f.job, queue, f.state), ...(queues.isSharded(queue) ? { shard } : {}) };
  };
  return { jobs: page.map(info), nextCursor };
}
