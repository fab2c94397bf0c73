import type { Job } from 'bullmq';
import type { JobInfo } from '../schemas/jobs.js';

export const iso = (ms: number | undefined | null): string | null => (ms ? new Date(ms).toISOString() : null);

/** A BullMQ job as the client, HTTP and CLI report it. */
export function toInfo(job: Job, queue: string, state: string): JobInfo {
  return {
    id: String(job.id),
    queue,
    name: job.name,
    state,
    data: job.data,
    progress: job.progress,
    attemptsMade: job.attemptsMade,
    returnValue: job.returnvalue ?? null,
    failedReason: job.failedReason || null,
    createdAt: iso(job.timestamp),
    processedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
  };
}
