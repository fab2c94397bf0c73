import { ValidationError } from '../errors.js';

/**
 * How deeply a job payload (`data`) may nest objects and arrays: `{}` is 1 level, `{ a: [1] }` 2.
 * Schema validation and serialization recurse once per level, so without a limit a payload nested a
 * few thousand levels deep overflows the stack (a 500 over HTTP, a crash-looping job in the worker).
 * 64 is far beyond any real payload and far below where recursion fails. The same limit is
 * checked by the HTTP API (before schema validation), the client and the worker.
 */
export const MAX_PAYLOAD_DEPTH = 64;

/**
 * How deeply `value` nests, counted without recursion and stopping once `limit` is exceeded
 * (so the result is at most `limit + 1`, and the walk stays cheap for hostile input). Runs for
 * every job a worker takes, so it allocates nothing for the common flat payload.
 */
export function nestingDepth(value: unknown, limit = MAX_PAYLOAD_DEPTH): number {
  if (!isNested(value)) return 0;
  if (!someChild(value, isNested)) return 1;
  let deepest = 0;
  const nodes: object[] = [value];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    someChild(node, (child) => {
      if (isNested(child)) {
        nodes.push(child);
        depths.push(depth + 1);
      }
      return false;
    });
  }
  return deepest;
}

const isNested = (value: unknown): value is object => value !== null && typeof value === 'object';

/** Whether `test` holds for one of `node`'s own values (array items or object values), stopping at the first. */
function someChild(node: object, test: (child: unknown) => boolean): boolean {
  if (Array.isArray(node)) {
    for (const child of node as unknown[]) if (test(child)) return true;
    return false;
  }
  for (const key in node) if (Object.hasOwn(node, key) && test((node as Record<string, unknown>)[key])) return true;
  return false;
}

/** The message for a payload over the limit, shared by every place that checks it. */
export function tooDeepMessage(field: string, limit = MAX_PAYLOAD_DEPTH): string {
  return `${field} is nested more than ${limit} levels deep; flatten it (at most ${limit} levels of objects/arrays)`;
}

/**
 * Refuses a value nested more than `limit` levels deep.
 * @throws ValidationError naming `field`.
 */
export function assertDepth(value: unknown, field: string, limit = MAX_PAYLOAD_DEPTH): void {
  if (nestingDepth(value, limit) > limit) {
    const message = tooDeepMessage(field, limit);
    throw new ValidationError(message, [{ field, message }]);
  }
}
