import type { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors.js';
import { assertDepth } from '../jobs/depth.js';

/** The value at `path` inside `input`, for "got …" in messages. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function shown(v: unknown): string {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : v.toISOString();
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Field issues of a zod error: one per bad or unknown field, each naming the field and what is allowed. */
export function fieldIssues(error: z.ZodError, input: unknown, root = ''): FieldIssue[] {
  const details: FieldIssue[] = [];
  for (const issue of error.issues) {
    const at = [root, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const field = at ? `${at}.${key}` : key;
        details.push({ field, message: `${field}: unknown field` });
      }
      continue;
    }
    const value = valueAt(input, issue.path);
    const got = issue.code !== 'custom' && value !== undefined ? ` (got ${shown(value)})` : '';
    details.push({ field: at || 'body', message: `${at || 'body'}: ${issue.message}${got}` });
  }
  return details;
}

/**
 * Parses `input` with `schema`.
 * @param what names the input in the error message, e.g. "request body", "options".
 * @throws ValidationError with one detail per bad or unknown field.
 */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown, what = 'input', root = ''): z.output<S> {
  // Before the schema: recursive validation of a value nested thousands of levels deep would
  // overflow the stack. Each field gets the payload limit, named in the 400.
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    for (const [key, value] of Object.entries(input)) assertDepth(value, [root, key].filter(Boolean).join('.'));
  } else {
    assertDepth(input, root || 'body');
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = fieldIssues(result.error, input, root);
  throw new ValidationError(`Invalid ${what}: ${details.map((d) => d.message).join('; ')}`, details);
}
