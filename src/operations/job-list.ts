import type { Job, JobType } from 'bullmq';
import type { Queues } from '../queues.js';
import { LISTABLE_STATES, type JobList, type JobListQuery } from '../schemas/operations.js';
import { toInfo } from './job-info.js';

/** How many of the most recent jobs per queue and state a search looks at. */
export const SCAN_PER_STATE = 2000;

interface Found {
  job: Job;
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
  const names = query.queue !== undefined ? [queues.get(query.queue).name] : queues.all().map((q) => q.name);
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
  return { jobs: page.map((f) => toInfo(f.job, f.queue, f.state)), nextCursor };
}
