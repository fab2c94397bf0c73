import { Job, Queue, Worker } from 'bullmq';

type FromJson = Parameters<typeof Job.fromJSON>;

/**
 * A BullMQ Job that can be read even when its stored data is not JSON (a foreign producer wrote it
 * so). BullMQ's own `fromJSON` throws there, and then:
 * - a worker leaves the job "active" until its lock expires and takes it again, forever (even its
 *   deferred failure after too many stalls needs the job read first);
 * - every read of it, and every listing of its queue, fails (the API answered 500).
 * Here `data` is the stored text and `unreadable` says why: the worker fails such a job at once,
 * without retries (routing.ts), and the API shows it like any other.
 */
export class CenterJob extends Job {
  // Declared only: a class field would be defined on every job BullMQ builds (each enqueue, each job a
  // worker takes), a property added after Job's constructor that costs time on the hot path and is
  // needed on almost none.
  declare unreadable?: string;

  static override fromJSON<T = unknown, R = unknown, N extends string = string>(queue: FromJson[0], json: FromJson[1], jobId?: string): Job<T, R, N> {
    try {
      return super.fromJSON<T, R, N>(queue, json, jobId);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const job = super.fromJSON<T, R, N>(queue, { ...json, data: JSON.stringify(json.data ?? '') }, jobId);
      (job as unknown as CenterJob).unreadable = `its data is not JSON (${err.message})`;
      return job;
    }
  }
}

// A class extending Job is not generic in its constructor as `typeof Job` is; it only adds a field.
const JOB_CLASS = CenterJob as unknown as typeof Job;

/** BullMQ's Queue, reading jobs as {@link CenterJob} (BullMQ's `get Job()` extension point). */
export class CenterQueue extends Queue {
  protected override get Job(): typeof Job {
    return JOB_CLASS;
  }
}

/** BullMQ's Worker, reading the jobs it takes as {@link CenterJob}. */
export class CenterWorker extends Worker {
  protected override get Job(): typeof Job {
    return JOB_CLASS;
  }
}
