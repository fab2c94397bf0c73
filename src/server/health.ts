import type { RequestHandler } from 'express';
import { withDeadline } from '../deadline.js';
import type { RedisClient } from '../redis/connection.js';

/** `GET /healthz`: 200 when Redis answers a PING within a second, 503 otherwise. No auth. */
export function healthHandler(redis: RedisClient): RequestHandler {
  return async (_req, res) => {
    const started = Date.now();
    try {
      if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
      await withDeadline(redis.ping(), 1000, () => new Error('redis did not answer within 1 s'));
      res.status(200).json({ status: 'ok', redis: 'up', latencyMs: Date.now() - started });
    } catch (err) {
      res.status(503).json({ status: 'unavailable', redis: 'down', error: (err as Error).message });
    }
  };
}
