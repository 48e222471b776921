import type { Logger } from '../../lib/logger.ts';
import { createRedis, type Redis } from '../../lib/redis.ts';
import type { FlagStore } from './store.ts';
import { safeError } from '../../lib/safe-error.ts';

const HASH = 'gateway:flags';

// Read, compare, write and publish in one step, so a flip and its notice can never be split
// and a compare-and-set (the automatic rollback) cannot undo a flip made a moment before.
const SWAP = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[3] == '1' then
  local matches = (current == false and ARGV[5] == '1') or (current ~= false and current == ARGV[4])
  if not matches then return {0, current} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[6], ARGV[1])
return {1, current}
`;

/**
 * Flags in a Redis hash (route -> JSON). Every change is published on a channel; each replica
 * subscribes on its own connection and re-reads the route at once. The channel carries only the
 * route name, so a replica always applies what the hash holds, whatever order notices arrive in.
 */
export function createRedisFlagStore(url: string, keyPrefix: string, logger: Logger): FlagStore {
  const redis = createRedis(url, { keyPrefix, name: 'gateway-flags' });
  // Pub/sub channels are not keys: ioredis does not prefix them, so the prefix is added by hand.
  const channel = `${keyPrefix}gateway:flags:changed`;
  const subscriber: Redis = redis.duplicate({ connectionName: 'gateway-flags-sub' });
  const listeners: Array<(route: string) => void> = [];
  let lastError = '';
  for (const [name, connection] of [
    ['flags', redis],
    ['flags subscriber', subscriber],
  ] as const) {
    connection.on('error', (error: Error) => {
      // ioredis retries on its own; one line per distinct problem, not one per retry.
      if (error.message !== lastError) logger.warn({ err: safeError(error), connection: name }, 'redis connection problem');
      lastError = error.message;
    });
  }
  subscriber.on('message', (ch: string, route: string) => {
    if (ch !== channel) return;
    for (const listener of listeners) listener(route);
  });
  // After a reconnect the subscription is restored by ioredis, but notices sent meanwhile are lost:
  // re-announce every route so the table re-reads them all.
  subscriber.on('ready', () => {
    lastError = '';
    for (const listener of listeners) listener('*');
  });
  // Not awaited: with Redis down at start the gateway still starts, on its defaults, and ioredis
  // subscribes (and re-subscribes after every reconnect) as soon as it can.
  subscriber
    .subscribe(channel)
    .catch((error: Error) => logger.warn({ err: safeError(error) }, 'flag channel subscription failed; ioredis retries on reconnect'));

  return {
    kind: 'redis',
    async readAll() {
      return new Map(Object.entries(await redis.hgetall(HASH)));
    },
    async read(route) {
      return (await redis.hget(HASH, route)) ?? undefined;
    },
    async swap(route, next, expected) {
      const [swapped, previous] = (await redis.eval(
        SWAP,
        1,
        HASH,
        route,
        next,
        expected ? '1' : '0',
        expected?.raw ?? '',
        expected?.orMissing ? '1' : '0',
        channel,
      )) as [number, string | null];
      return { swapped: swapped === 1, previous: previous ?? undefined };
    },
    onChange(listener) {
      listeners.push(listener);
    },
    // Not a readiness check: flags are served from memory, so a Redis outage must not take the
    // front door out of the load balancer (flips are refused meanwhile; reloads retry).
    probes: [{ name: 'redis', check: () => redis.ping() }],
    async close() {
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}
