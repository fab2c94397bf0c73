/*
 * Continuations: "run job B after job A finishes", for a job A that already exists. The client
 * registers them (store), the worker runs them through one job hook (hook), and a periodic sweep
 * recovers releases a crashed worker left undone.
 */
export { Continuations } from './store.js';
export { continuationHook } from './hook.js';
export { CONTINUATION_PREFIX, type ContinueOn, type JobRef, type Outcome, type ParentOutcome } from './types.js';
