import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import type { Logger } from '../logger.js';
import type { JobHook } from '../runtime/hooks.js';
import type { Continuations } from './store.js';
import { CONTINUATION_PREFIX } from './types.js';

/**
 * Continuations as a job hook. Before a continuation runs (id `cont-…`), it reads the parent's
 * outcome for `ctx.parent()` and fails a cancelled one; after any job finishes for good, it
 * releases the continuations waiting on it.
 */
export function continuationHook(continuations: Continuations, logger: Logger): JobHook {
  return {
    name: 'continuations',
    async beforeRun(job: Job) {
      const id = String(job.id);
      if (!id.startsWith(CONTINUATION_PREFIX)) return undefined;
      const cont = await continuations.contextFor({ queue: job.queueName, id });
      if (!cont) return undefined;
      if (cont.cancelled) throw new UnrecoverableError(cont.cancelled);
      return { parent: cont.parent };
    },
    async afterFinish(job, outcome) {
      if (!outcome.final) return;
      await continuations
        .onFinished(
          { queue: job.queueName, id: String(job.id) },
          outcome.state === 'completed'
            ? { state: 'completed', returnValue: outcome.returnValue ?? null, failedReason: null }
            : { state: 'failed', returnValue: null, failedReason: outcome.failedReason },
        )
        .catch((e: Error) => logger.warn({ err: e.message }, 'Could not release continuations; the sweeper will'));
    },
  };
}
