import type { ErrorRequestHandler } from 'express';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The JSON error body every 4xx/5xx answer of the center uses. */
export interface ErrorBody {
  error: string;
  details: { field: string; message: string }[];
}

/** Sends `{ error, details }` with `status`. */
export function errorBody(error: string, details: ErrorBody['details'] = []): ErrorBody {
  return { error, details };
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/**
 * The one error middleware: validation → 400, unknown → 404, conflict → 409, Redis down → 503, body parser
 * problems → 400/413/415, anything else → a logged 500 without a stack in the body.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const bp = err as BodyParserError;
    if (err instanceof ValidationError) {
      res.status(400).json(errorBody(err.message, [...err.details]));
    } else if (err instanceof NotFoundError) {
      res.status(404).json(errorBody(err.message));
    } else if (err instanceof ConflictError) {
      res.status(409).json(errorBody(err.message));
    } else if (err instanceof UnavailableError) {
      // `outcome` and `jobId` let a client retry an enqueue whose outcome is unknown without
      // risking a second job: the same jobId creates it at most once.
      const details = err.jobId === undefined ? [] : [{ field: 'jobId', message: `retry with jobId ${JSON.stringify(err.jobId)}` }];
      res
        .status(503)
        .set('Retry-After', '5')
        .json({
          ...errorBody(err.message, details),
          outcome: err.outcome,
          ...(err.jobId === undefined ? {} : { jobId: err.jobId }),
          ...(err.jobIds === undefined ? {} : { jobIds: err.jobIds }),
        });
    } else if (bp?.type === 'entity.parse.failed') {
      res.status(400).json(errorBody('Malformed JSON body', [{ field: 'body', message: 'body must be valid JSON' }]));
    } else if (bp?.type === 'entity.too.large') {
      res
        .status(413)
        .json(errorBody(`Body larger than the limit of ${bp.limit ?? '?'} bytes`, [{ field: 'body', message: 'body too large' }]));
    } else if (bp?.type === 'encoding.unsupported' || bp?.type === 'charset.unsupported') {
      res.status(415).json(errorBody('Unsupported body encoding', [{ field: 'body', message: 'use UTF-8 JSON' }]));
    } else if (typeof bp?.status === 'number' && bp.status >= 400 && bp.status < 500) {
      // Name what was wrong: the body (body-parser's errors carry a type) or the URL (a path
      // segment that is not valid percent-encoding, which Express reports as a URIError).
      const field = bp.type ? 'body' : err instanceof URIError ? 'path' : undefined;
      const message = (err as Error).message || 'Bad request';
      res.status(bp.status).json(errorBody(message, field ? [{ field, message: field === 'path' ? 'a path segment is not valid percent-encoding (UTF-8)' : message }] : []));
    } else {
      logger.error({ err: (err as Error)?.message, method: req.method, path: req.path }, 'Unhandled error');
      res.status(500).json(errorBody('Internal error; see the server log'));
    }
  };
}
