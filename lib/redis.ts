import { Redis } from 'ioredis';

export type { Redis };

/** One ioredis connection; callers pass `keyPrefix` so several environments can share a server. */
export function createRedis(url: string, options: { keyPrefix?: string; name?: string } = {}): Redis {
  return new Redis(url, {
    keyPrefix: options.keyPrefix,
    connectionName: options.name,
    // Fail a command fast during an outage instead of queueing it forever: callers decide what to do.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}

export function redisCheck(redis: Redis) {
  return { name: 'redis', check: () => redis.ping() };
}
