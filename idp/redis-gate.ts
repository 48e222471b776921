// The idp keeps sessions, interactions, codes, tokens and the login throttle's counts in Redis.
// While Redis is unreachable every request that needs it is answered 503 with Retry-After at
// once, instead of waiting out ioredis's retries and ending in a 500. Discovery and the JWKS
// need no Redis and stay up, so relying parties keep validating the tokens they hold.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { redisReady, type Redis } from '../lib/redis.ts';
import { RETRY_AFTER_SECONDS, sendUnavailablePage } from './interactions/index.ts';

/** The 503: a page for a browser, the OAuth error shape for everyone else. */
export function answerRedisUnavailable(req: Request, res: Response): void {
  if (req.accepts(['json', 'html']) === 'html') return sendUnavailablePage(res);
  res
    .status(503)
    .set('retry-after', String(RETRY_AFTER_SECONDS))
    .set('cache-control', 'no-store')
    .json({ error: 'temporarily_unavailable', error_description: 'try again in a moment' });
}

/** Lets a request through only while Redis takes commands; `open` paths (prefixes) need no Redis. */
export function redisGate(redis: Redis, open: readonly string[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (redisReady(redis) || req.path === '/' || open.some((prefix) => req.path.startsWith(prefix))) return next();
    answerRedisUnavailable(req, res);
  };
}
