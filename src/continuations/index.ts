/*
 * Continuations (see continuations.ts): registration, release, sweep, the in-memory set of
 * continued parents and the worker hook, each in its own file; keys.ts says where they live.
 */
export { Continuations } from './continuations.js';
export { continuationHook } from './hook.js';
export { ContinuedParents } from './parents.js';
export { CONTINUATION_PREFIX, type ContinueOn, type JobRef, type Outcome, type ParentOutcome } from './types.js';
