import type { JobCenterClient } from '../client.js';

/**
 * What the HTTP layer may do with the center: the operations its routes call, nothing more.
 * The server is built from this interface, not from the client's internals, so a route cannot
 * reach a queue, a connection or Redis keys behind the client's back. A new route that needs a
 * new operation adds it to the client (where it is validated and tested) and names it here.
 */
export type CenterService = Pick<
  JobCenterClient,
  | 'add'
  | 'enqueueManyUnchecked'
  | 'continueWithUnchecked'
  | 'getJob'
  | 'retry'
  | 'recurring'
  | 'alerts'
  | 'connectionStatus'
  | 'ping'
  | 'ready'
  | 'bullQueues'
  | 'queueShard'
  | 'jobTimings'
  | 'shardsLoaded'
  | 'contracts'
  | 'listJobs'
  | 'jobLogs'
  | 'cancelJob'
  | 'promoteJob'
  | 'retryFailed'
  | 'pauseQueue'
  | 'resumeQueue'
  | 'cleanQueue'
  | 'queueSummary'
  | 'queueSummaries'
  | 'batchUnchecked'
  | 'getBatch'
>;
