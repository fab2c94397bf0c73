import type { Config } from '../config.js';
import { centerKey, queueKey, queuePrefix } from '../redis/connection.js';

/*
 * Where continuations live. Everything about one parent is tagged with the PARENT's queue
 * (`{queue}`), the same tag as that queue's BullMQ keys on a Cluster: registration and release are
 * each one script over one slot, and the script can read the parent job's own keys (its hash, the
 * completed / failed sets) in the same step. The one exception is `pointer`, in the continuation's
 * own queue slot, so a continuation can be found by its own reference (queue + id).
 *
 * - spec    `jc:{pq}:cont:<cq>:<cid>`  hash: name, data, opts, on, parent, state, createdAt, started
 * - links   `jc:{pq}:cont-of:<pid>`     set of `<cq>/<cid>` waiting on parent `pid`
 * - pending `jc:{pq}:cont-pending`      hash pid → registered-at ms: parents with unreleased continuations
 * - due     `jc:{pq}:cont-due`          sorted set pid → when to check it (the sweep's work list)
 * - pointer `jc:{cq}:cont-at:<cid>`     the parent queue `pq` whose slot holds this continuation
 */
export class ContinuationKeys {
  constructor(private readonly config: Config) {}

  spec(parentQueue: string, contQueue: string, contId: string): string {
    return queueKey(this.config, parentQueue, 'cont', contQueue, contId);
  }

  /** The prefix the release script appends `<cq>:<cid>` to. */
  specPrefix(parentQueue: string): string {
    return `${queueKey(this.config, parentQueue, 'cont')}:`;
  }

  links(parentQueue: string, parentId: string): string {
    return queueKey(this.config, parentQueue, 'cont-of', parentId);
  }

  pending(parentQueue: string): string {
    return queueKey(this.config, parentQueue, 'cont-pending');
  }

  due(parentQueue: string): string {
    return queueKey(this.config, parentQueue, 'cont-due');
  }

  pointer(contQueue: string, contId: string): string {
    return queueKey(this.config, contQueue, 'cont-at', contId);
  }

  /** A BullMQ key of a queue (`<prefix>:<queue>:<suffix>`), e.g. a job hash or the completed set. */
  bull(queue: string, suffix: string): string {
    return `${queuePrefix(this.config, queue)}:${queue}:${suffix}`;
  }

  /** Pub/sub channel announcing parents that gained (`+q/id`) or lost (`-q/id`) continuations. */
  get channel(): string {
    return centerKey(this.config, 'cont-events');
  }
}
