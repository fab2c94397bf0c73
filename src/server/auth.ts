import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { errorBody } from './http-errors.js';

/**
 * Compares two secrets in constant time. Both sides are hashed first so that neither the length
 * nor the content of the expected secret leaks through timing.
 */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of a request, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Requires `Authorization: Bearer <token>`; 401 JSON with a challenge otherwise. */
export function requireBearer(token: string): RequestHandler {
  return (req, res, next) => {
    const given = bearerToken(req.headers.authorization);
    if (given !== undefined && safeEqual(given, token)) return next();
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="job-center"')
      .json(errorBody('Missing or invalid API token', [{ field: 'Authorization', message: 'send Authorization: Bearer <API_TOKEN>' }]));
  };
}
