import type { RequestHandler } from 'express';
import { withDeadline } from '../deadline.js';
import type { CenterService } from './service.js';

/** `GET /healthz`: 200 when Redis answers a PING within a second, 503 otherwise. No auth. */
export function healthHandler(redis: Pick<CenterService, 'connectionStatus' | 'ping'>): RequestHandler {
  return async (_req, res) => {
    const started = Date.now();
    try {
      if (redis.connectionStatus !== 'ready') throw new Error(`redis connection is ${redis.connectionStatus}`);
      await withDeadline(redis.ping(), 1000, () => new Error('redis did not answer within 1 s'));
      res.status(200).json({ status: 'ok', redis: 'up', latencyMs: Date.now() - started });
    } catch (err) {
      res.status(503).json({ status: 'unavailable', redis: 'down', error: (err as Error).message });
    }
  };
}
