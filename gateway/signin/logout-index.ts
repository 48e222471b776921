// Which PHP sessions the bridge made for which idp session (`sid`) and user (`sub`), so that a
// back-channel logout can end them; and which logout tokens were already used. In Redis when the
// gateway has one (every worker and replica sees the same), else in this process.
import { createRedis, type Redis } from '../../lib/redis.ts';

export interface LogoutIndex {
  /** Records `sessionId` under each of `keys` for `ttlSeconds` (each key's lifetime restarts). */
  remember(keys: readonly string[], sessionId: string, ttlSeconds: number): Promise<void>;
  /** The session ids recorded under `key`, removed from the index. */
  take(key: string): Promise<string[]>;
  /** True the first time `id` is presented within `ttlSeconds`, false on every replay. */
  firstUse(id: string, ttlSeconds: number): Promise<boolean>;
  close(): Promise<void>;
}

export const sidKey = (sid: string) => `sid:${sid}`;
export const subKey = (sub: string) => `sub:${sub}`;

export function createMemoryLogoutIndex(now: () => number = Date.now): LogoutIndex {
  const sets = new Map<string, { ids: Set<string>; until: number }>();
  const used = new Map<string, number>();
  // Expired entries go at each write, so the maps hold no more than a lifetime of sign-ins.
  const sweep = () => {
    const t = now();
    for (const [key, entry] of sets) if (entry.until <= t) sets.delete(key);
    for (const [id, until] of used) if (until <= t) used.delete(id);
  };
  return {
    async remember(keys, sessionId, ttlSeconds) {
      sweep();
      const until = now() + ttlSeconds * 1000;
      for (const key of keys) {
        const entry = sets.get(key) ?? { ids: new Set<string>(), until };
        entry.ids.add(sessionId);
        entry.until = until;
        sets.set(key, entry);
      }
    },
    async take(key) {
      const entry = sets.get(key);
      sets.delete(key);
      return entry && entry.until > now() ? [...entry.ids] : [];
    },
    async firstUse(id, ttlSeconds) {
      sweep();
      if (used.has(id)) return false;
      used.set(id, now() + ttlSeconds * 1000);
      return true;
    },
    async close() {},
  };
}

export function createRedisLogoutIndex(url: string, keyPrefix: string): LogoutIndex {
  const redis: Redis = createRedis(url, { keyPrefix: `${keyPrefix}gateway:logout:`, name: 'gateway-logout' });
  return {
    async remember(keys, sessionId, ttlSeconds) {
      const multi = redis.multi();
      for (const key of keys) multi.sadd(key, sessionId).expire(key, ttlSeconds);
      const results = await multi.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('redis transaction aborted');
    },
    async take(key) {
      const results = await redis.multi().smembers(key).del(key).exec();
      const [error, members] = results?.[0] ?? [new Error('redis transaction aborted')];
      if (error) throw error;
      return members as string[];
    },
    async firstUse(id, ttlSeconds) {
      return (await redis.set(`jti:${id}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async close() {
      redis.disconnect();
    },
  };
}
