import { Redis } from 'ioredis';
import type { Logger } from './logger.ts';
import { safeError } from './safe-error.ts';

export type { Redis };

/** A command gets this long, queued or sent, before it fails: a Redis that stopped answering must not hold requests. */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;

export interface RedisOptions {
  /** Callers pass one so several environments can share a server. */
  keyPrefix?: string;
  name?: string;
  /** Told once per outage that the connection failed, and when it is back. Without one, failures are only seen by the commands that fail. */
  logger?: Logger;
  /** How long one command may take, queued or sent; default REDIS_COMMAND_TIMEOUT_MS. */
  commandTimeoutMs?: number;
}

/**
 * One ioredis connection, with an 'error' listener: without one, each failed reconnect is an
 * unhandled 'error' event that ioredis prints to stderr (dozens per outage).
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    keyPrefix: options.keyPrefix,
    connectionName: options.name,
    // Fail a command fast during an outage instead of queueing it forever: callers decide what to do.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  let failing = false;
  redis.once('ready', () => everReady.add(redis));
  redis.on('error', (error: Error & { code?: unknown }) => {
    // ioredis retries by itself: one line per outage, not one per retry.
    if (failing) return;
    failing = true;
    options.logger?.warn({ err: safeError(error), connection: options.name }, 'redis connection failed; retrying');
  });
  redis.on('ready', () => {
    if (failing) options.logger?.info({ connection: options.name }, 'redis connection back');
    failing = false;
  });
  return redis;
}

const everReady = new WeakSet<Redis>();

/**
 * Whether the connection can take commands now: while it reconnects, a caller answers
 * "unavailable" at once instead of queueing. The first connection is not an outage: commands
 * sent while it opens wait in the offline queue (bounded by the command timeout), so a request
 * that arrives just after the listener opened is served, not refused.
 */
export function redisReady(redis: Redis): boolean {
  if (redis.status === 'ready') return true;
  return !everReady.has(redis) && (redis.status === 'wait' || redis.status === 'connecting' || redis.status === 'connect');
}

/** An error a Redis command failed with because Redis was unreachable or silent (not a bad command). */
export function isRedisUnavailableError(error: unknown): boolean {
  const e = error as { name?: unknown; message?: unknown } | null;
  if (typeof e !== 'object' || e === null) return false;
  return (
    e.name === 'MaxRetriesPerRequestError' ||
    e.message === 'Connection is closed.' ||
    e.message === 'Command timed out' ||
    (typeof e.message === 'string' && e.message.startsWith("Stream isn't writeable"))
  );
}

export function redisCheck(redis: Redis) {
  return { name: 'redis', check: () => redis.ping() };
}
