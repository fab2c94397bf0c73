import type { Job } from 'bullmq';

/**
 * When a job became due: its creation plus the delay it was added with (a delayed job, a schedule's
 * tick). The job's own `delay` field cannot tell: BullMQ sets it to 0 when the job moves from
 * delayed to waiting, so wait times and waiting ages counted a whole delay (a daily schedule's tick
 * looked a day old). For a retry it is still the first attempt's due time.
 */
export function dueAt(job: Pick<Job, 'timestamp' | 'opts'>): number {
  return job.timestamp + Math.max(0, job.opts?.delay ?? 0);
}
