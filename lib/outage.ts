// Whether an error is an outage of something a service stores its state in (Redis, its database):
// answered 503 "try again in a moment" with Retry-After, never a 500, and logged as a warning.
import { isDatabaseUnavailableError } from './db.ts';
import { isRedisUnavailableError } from './redis.ts';

export function isStoreUnavailableError(error: unknown): boolean {
  return isRedisUnavailableError(error) || isDatabaseUnavailableError(error);
}
