import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import basicAuth from 'express-basic-auth';
import { ipKeyGenerator, MemoryStore } from 'express-rate-limit';
import type { ApiScope, ApiTokenSpec, Config } from '../config.js';
import { errorBody } from './http-errors.js';

/**
 * Why a TRUST_PROXY setting weakens the login limit, or undefined. `true` believes every
 * X-Forwarded-For header, so any client picks the address the limit counts and the audit records:
 * it escapes the limit, or locks another address out. A hop count or the proxies' addresses do not.
 */
export function trustProxyRisk(trust: boolean | number | string): string | undefined {
  return trust === true
    ? 'TRUST_PROXY=true believes every X-Forwarded-For header: a client can choose the address the login limit and the audit log see ' +
        '(escape the limit, or lock another address out). Set the number of proxies in front instead (e.g. TRUST_PROXY=1), or their addresses (e.g. TRUST_PROXY=10.0.0.0/8)'
    : undefined;
}

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

/** The API caller a token identifies. */
export interface ApiCaller {
  readonly name: string;
  readonly scope: ApiScope;
}

/** The caller of an authenticated API request (`res.locals.caller`). */
export function callerOf(res: Response): ApiCaller | undefined {
  return (res.locals as { caller?: ApiCaller }).caller;
}

/**
 * Finds the token's owner, comparing against every token in constant time so the time taken
 * reveals neither whether nor which token matched.
 */
export function identifyToken(tokens: readonly ApiTokenSpec[], given: string): ApiCaller | undefined {
  let found: ApiCaller | undefined;
  for (const t of tokens) {
    if (safeEqual(given, t.token) && !found) found = { name: t.name, scope: t.scope };
  }
  return found;
}

/**
 * Requires `Authorization: Bearer <token>` of one of `tokens`; 401 JSON with a challenge
 * otherwise. Sets `res.locals.caller`. With `failures`, a locked-out address gets 429 and every
 * wrong token counts as a failed login.
 */
export function requireApiToken(tokens: readonly ApiTokenSpec[], failures?: AuthFailures): RequestHandler {
  const check: RequestHandler = (req, res, next) => {
    const given = bearerToken(req.headers.authorization);
    const caller = given === undefined ? undefined : identifyToken(tokens, given);
    if (caller) {
      res.locals.caller = caller;
      return next();
    }
    if (req.headers.authorization) failures?.fail(req);
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="job-center"')
      .json(errorBody('Missing or invalid API token', [{ field: 'Authorization', message: 'send Authorization: Bearer <token> (API_TOKEN or one of API_TOKENS)' }]));
  };
  if (!failures) return check;
  const gate = failures.gate();
  return (req, res, next) => gate(req, res, (err?: unknown) => (err ? next(err) : check(req, res, next)));
}

/** {@link requireApiToken} with one admin token named `api-token` (API_TOKEN alone). */
export function requireBearer(token: string, failures?: AuthFailures): RequestHandler {
  return requireApiToken([{ name: 'api-token', scope: 'admin', token }], failures);
}

/** `admin` may do everything the board offers; `viewer` may only look. */
export type BoardRole = 'admin' | 'viewer';

/** A logged-in board user. */
export interface BoardAccount {
  readonly user: string;
  readonly role: BoardRole;
}

/** Who made a request, once authenticated; `res.locals.account` holds it. */
export function accountOf(res: Response): BoardAccount | undefined {
  return (res.locals as { account?: BoardAccount }).account;
}

/**
 * The board accounts of a config. `identify` checks a user/password pair against every account,
 * always comparing all of them so the time taken does not reveal which account (if any) matched.
 */
export function boardAccounts(config: Config): { identify(user: string, password: string): BoardAccount | undefined } {
  const entries = (
    [
      ['admin', config.server.board.admin],
      ['viewer', config.server.board.viewer],
    ] as const
  ).filter((e): e is readonly [BoardRole, { user: string; password: string }] => e[1] !== undefined);
  return {
    identify(user, password) {
      let found: BoardAccount | undefined;
      for (const [role, creds] of entries) {
        const userOk = safeEqual(user, creds.user);
        const passOk = safeEqual(password, creds.password);
        if (userOk && passOk && !found) found = { user: creds.user, role };
      }
      return found;
    },
  };
}

/**
 * Failed logins per client address, in a fixed window (express-rate-limit's MemoryStore). Only
 * requests with wrong credentials count, so a board that polls every few seconds, or a browser
 * that asks without credentials first, never locks its own user out. Once an
 * address reaches the limit, every request from it gets 429 until the window ends, whether its
 * credentials are right or not: answering differently would let a guesser tell a hit from a miss.
 */
export class AuthFailures {
  readonly #store = new MemoryStore();

  constructor(
    readonly maxFailures: number,
    readonly windowMs: number,
  ) {
    this.#store.init({ windowMs } as Parameters<MemoryStore['init']>[0]);
  }

  static fromConfig(config: Config): AuthFailures {
    return new AuthFailures(config.server.authMaxFailures, config.server.authWindowMs);
  }

  static key(req: Request): string {
    return ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
  }

  /** Counts one failure. Synchronous in effect: MemoryStore updates before its first await. */
  fail(req: Request): void {
    void this.#store.increment(AuthFailures.key(req));
  }

  /** Middleware: 429 (with Retry-After) when this address has failed too often, else next(). */
  gate(): RequestHandler {
    return async (req, res, next) => {
      const seen = await this.#store.get(AuthFailures.key(req));
      if (!seen || seen.totalHits < this.maxFailures) return next();
      const retryAfter = Math.max(1, Math.ceil(((seen.resetTime?.getTime() ?? Date.now()) - Date.now()) / 1000));
      res
        .status(429)
        .set('Retry-After', String(retryAfter))
        .json(
          errorBody(`Too many failed logins from this address; try again in ${retryAfter} s`, [
            { field: 'Authorization', message: `${this.maxFailures} failed logins within ${this.windowMs / 1000} s (AUTH_MAX_FAILURES, AUTH_WINDOW_MS)` },
          ]),
        );
    };
  }

  /** Stops the store's cleanup timer. */
  close(): void {
    this.#store.shutdown();
  }
}

const REALM = 'job-center';

/**
 * HTTP basic auth for the board accounts (express-basic-auth): 429 when the address is locked out,
 * 401 with a `WWW-Authenticate: Basic` challenge when the credentials are missing or wrong (each
 * counted as a failure), otherwise `res.locals.account` is set and the request goes on.
 */
export function requireBoardLogin(config: Config, failures: AuthFailures): RequestHandler[] {
  const accounts = boardAccounts(config);
  const check = basicAuth({
    authorizer: (user: string, password: string) => accounts.identify(user, password) !== undefined,
    challenge: true,
    realm: REALM,
    unauthorizedResponse: (req: Request) => {
      // A request without credentials is the challenge step of every login (browsers send one per
      // protection space before they resend with the cached password), not a guess.
      if (req.headers.authorization) failures.fail(req);
      return errorBody('Missing or wrong board credentials', [
        { field: 'Authorization', message: 'log in with BOARD_USER/BOARD_PASSWORD (or the viewer account)' },
      ]);
    },
  });
  const identify: RequestHandler = (req, res, next) => {
    const given = (req as Request & { auth?: { user: string; password: string } }).auth;
    const account = given && accounts.identify(given.user, given.password);
    if (!account) return next(new Error('basic auth passed without a matching account'));
    res.locals.account = account;
    next();
  };
  return [failures.gate(), check as unknown as RequestHandler, identify];
}

/**
 * For machine endpoints (`/metrics`): any valid API token (every scope may read) or board credentials. A wrong
 * token counts as a failed login like a wrong password.
 */
export function requireTokenOrBoardLogin(config: Config, failures: AuthFailures): RequestHandler[] {
  const tokens = config.server.apiTokens;
  const [gate, check, identify] = requireBoardLogin(config, failures);
  const bearerOrBasic: RequestHandler = (req, res, next) => {
    const given = bearerToken(req.headers.authorization);
    const caller = given === undefined ? undefined : identifyToken(tokens, given);
    if (caller) {
      res.locals.account = { user: caller.name, role: 'viewer' } satisfies BoardAccount;
      return next();
    }
    check!(req, res, (err?: unknown) => (err ? next(err) : identify!(req, res, next)));
  };
  return [gate!, bearerOrBasic];
}
