import type { Request, RequestHandler } from 'express';
import { errorBody } from './http-errors.js';

/*
 * Browser-facing protections. The board is behind HTTP basic auth, which a browser attaches to
 * every request to the board's origin, whichever site started it: without these checks a page on
 * any other site could make a logged-in admin's browser add, retry or remove jobs (CSRF).
 */

/**
 * Headers on every response: no framing (clickjacking), no MIME sniffing, no Referer leaking
 * board URLs (queue and job names) to other sites.
 */
export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy': "frame-ancestors 'none'",
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  next();
};

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** `Sec-Fetch-Site` values of requests the user made on this very origin, or typed / bookmarked. */
const OWN_SITE = new Set(['same-origin', 'none']);

/** The origin this request was addressed to, as the browser saw it (behind a trusted proxy: the forwarded one). */
function ownOrigin(req: Request): string {
  return `${req.protocol}://${req.host}`;
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Refuses writes (anything but GET/HEAD/OPTIONS) that a browser made on behalf of another site:
 * - `Sec-Fetch-Site` other than `same-origin` or `none` (Chromium, Firefox and Safari send it), or
 * - an `Origin` other than this server's own (every browser sends Origin on writes), including
 *   `null` (sandboxed frames, some redirects).
 * Requests with neither header come from programs (curl, scripts), not from a page, and pass.
 * Writes with a body must be JSON (415 otherwise): HTML forms can only send form or text
 * bodies, so a JSON-only write cannot be forged by a form, even by a browser that sends neither
 * header. Empty bodies pass: Bull Board sends some actions without one.
 */
export const refuseCrossSiteWrites: RequestHandler = (req, res, next) => {
  if (SAFE.has(req.method)) return next();
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  const own = ownOrigin(req);
  if ((site !== undefined && !OWN_SITE.has(site)) || (origin !== undefined && origin !== own)) {
    res.status(403).json(
      errorBody('Cross-site write refused: board writes must come from the board itself', [
        {
          field: site !== undefined && !OWN_SITE.has(site) ? 'Sec-Fetch-Site' : 'Origin',
          message: `only requests from ${own} may change anything (got Origin ${JSON.stringify(origin ?? null)}, Sec-Fetch-Site ${JSON.stringify(site ?? null)})`,
        },
      ]),
    );
    return;
  }
  if (hasBody(req) && !req.is('application/json')) {
    res.status(415).json(
      errorBody('Board writes take JSON bodies only', [
        { field: 'Content-Type', message: `send Content-Type: application/json (got ${JSON.stringify(req.headers['content-type'] ?? null)})` },
      ]),
    );
    return;
  }
  next();
};
