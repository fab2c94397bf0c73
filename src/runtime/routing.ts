import { UnrecoverableError, type Job } from 'bullmq';
import { MAX_PAYLOAD_DEPTH, nestingDepth, tooDeepMessage } from '../jobs/depth.js';
import type { CenterJob } from '../queues/center-job.js';
import type { BoundHandler } from './handler.js';

/**
 * Step 1 of running a job: find its handler and validate its payload. A job with an unknown name
 * or an invalid payload fails at once (not retried) with a reason naming the problem.
 */
export class Routing {
  readonly #byName: ReadonlyMap<string, BoundHandler>;

  constructor(handlers: readonly BoundHandler[]) {
    this.#byName = new Map(handlers.map((h) => [h.contract.name, h]));
  }

  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /** @throws UnrecoverableError naming the handlers this worker has, or the invalid fields. */
  route(queue: string, job: Job): { handler: BoundHandler; data: unknown } {
    const handler = this.#byName.get(job.name);
    if (!handler || handler.contract.queue !== queue) {
      throw new UnrecoverableError(
        `No handler for job "${job.name}" on queue "${queue}"; this worker handles: ${this.names.join(', ')}`,
      );
    }
    // A foreign producer may have written anything: data that is no JSON at all, or nested deep
    // enough to overflow the validator's stack.
    const unreadable = (job as CenterJob).unreadable;
    if (unreadable) throw new UnrecoverableError(`Invalid payload for "${job.name}": ${unreadable}`);
    if (nestingDepth(job.data) > MAX_PAYLOAD_DEPTH) {
      throw new UnrecoverableError(`Invalid payload for "${job.name}": ${tooDeepMessage('data')}`);
    }
    const parsed = handler.contract.schema.safeParse(job.data);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => `data.${i.path.join('.')}: ${i.message}`).join('; ');
      throw new UnrecoverableError(`Invalid payload for "${job.name}": ${fields}`);
    }
    return { handler, data: parsed.data };
  }
}
