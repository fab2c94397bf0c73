import { UnrecoverableError, type Job } from 'bullmq';
import type { BeforeRunResult, JobHook } from '../runtime/hooks.js';
import { crashPoint } from './crash-points.js';
import type { ContinuedParents } from './parents.js';
import { release } from './release.js';
import { CONTINUATION_PREFIX, type ContinuationDeps, type ContinuationMeta } from './types.js';

/** How long after a parent finished the sweep may step in: the worker's own release comes first. */
const GRACE_MS = 3000;

/**
 * Continuations as one job hook. It concerns two kinds of jobs, both told apart in memory:
 * - a continuation (id `cont-…`): before it runs, fail it if it was cancelled, hand its parent's
 *   outcome (carried in `opts.jc`) to `ctx.parent()`, and mark it started;
 * - a parent somebody continues (in the in-memory set): when its run ends, mark it due (so a crash
 *   between BullMQ storing the outcome and the release loses nothing), and once it finished for
 *   good, release its continuations.
 * Every other job costs a prefix test and a Set lookup, no Redis request.
 */
export function continuationHook(deps: ContinuationDeps, parents: ContinuedParents): JobHook {
  const { queues, keys, config, logger } = deps;
  const isContinuation = (job: Job): boolean => String(job.id).startsWith(CONTINUATION_PREFIX);
  const isParent = (job: Job): boolean => !parents.known || parents.has(job.queueName, String(job.id));

  return {
    name: 'continuations',
    applies: (job) => isContinuation(job) || isParent(job),
    beforeRun(job: Job): BeforeRunResult | undefined {
      let result: { parent?: ContinuationMeta['parent']; release?: () => void } | undefined;
      if (isContinuation(job)) {
        const meta = (job.opts as { jc?: ContinuationMeta }).jc;
        if (meta) {
          if (meta.cancelled) throw new UnrecoverableError(meta.cancelled);
          // Not awaited: only a repeated release after a crash reads it, seconds later.
          const spec = keys.spec(meta.parent.queue, job.queueName, String(job.id));
          void queues.redis.hset(spec, 'started', '1').catch(() => {});
          result = { parent: meta.parent };
        }
      }
      if (isParent(job)) {
        const due = keys.due(job.queueName);
        const id = String(job.id);
        // Sent before BullMQ's finishing script (the processor has not returned yet), not awaited.
        result = { ...result, release: () => void queues.redis.zadd(due, 'LT', Date.now() + GRACE_MS, id).catch(() => {}) };
      }
      return result;
    },
    async afterFinish(job, outcome) {
      if (!outcome.final || !parents.has(job.queueName, String(job.id))) return;
      crashPoint(config, 'release:after-complete');
      const hint =
        outcome.state === 'completed'
          ? { state: 'completed' as const, returnValue: outcome.returnValue ?? null, failedReason: null }
          : { state: 'failed' as const, returnValue: null, failedReason: outcome.failedReason };
      try {
        await release(deps, { queue: job.queueName, id: String(job.id) }, hint);
      } catch (err) {
        logger.warn({ parent: `${job.queueName}/${job.id}`, err: (err as Error).message }, 'Could not release continuations; the sweep will');
      }
    },
  };
}
