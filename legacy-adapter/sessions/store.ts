import type { Knex } from 'knex';
import { queryWithin } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import { createRedis, redisCheck, type Redis } from '../../lib/redis.ts';
import type { SessionBridgeConfig } from './config.ts';

/** The monolith's session store, as its save handler uses it. */
export interface LegacySessionStore {
  /** Writes a new session; throws if the id is taken (ids are fresh and random: it never is). */
  create(id: string, data: Buffer): Promise<void>;
  /**
   * The data of a live session, as PHP's save handler would read it (the table: last_access
   * within the lifetime; Redis: the key, whose TTL is the lifetime); undefined when there is none.
   * Reading never refreshes it: only the monolith's own requests keep a session alive.
   */
  read(id: string): Promise<Buffer | undefined>;
  /** Removes the session; true if there was one. */
  destroy(id: string): Promise<boolean>;
  readonly checks: Array<{ name: string; check: () => Promise<unknown> }>;
  close(): Promise<void>;
}

/**
 * legacy-php's DbSessionHandler: a row (id, data, last_access) that is alive while last_access
 * is within the lifetime. A plain INSERT, never an upsert: a session PHP already has is never
 * rewritten under it (PHP does no locking). Each statement has the legacy database's deadline:
 * the table is the monolith's, and a lock it holds must not hold our requests.
 */
function tableStore(knex: Knex, table: string, lifetime: number, timeoutMs: number): LegacySessionStore {
  const query = <T>(build: () => Knex.QueryBuilder) => queryWithin<T>(knex, timeoutMs, build);
  return {
    async read(id) {
      // DbSessionHandler::read's own condition: last_access >= time() - lifetime.
      const since = Math.floor(Date.now() / 1000) - lifetime;
      const row = await query<{ data?: unknown } | undefined>(() => knex(table).select('data').where('id', id).andWhere('last_access', '>=', since).first());
      if (!row || row.data === null || row.data === undefined) return undefined;
      return Buffer.isBuffer(row.data) ? row.data : Buffer.from(String(row.data), 'utf8');
    },
    async create(id, data) {
      await query(() => knex(table).insert({ id, data, last_access: Math.floor(Date.now() / 1000) }));
    },
    async destroy(id) {
      return (await query<number>(() => knex(table).where({ id }).delete())) > 0;
    },
    checks: [],
    async close() {},
  };
}

/** phpredis's save handler: `<prefix><id>` holding the data, with the lifetime as TTL. */
function redisStore(redis: Redis, prefix: string, lifetime: number): LegacySessionStore {
  return {
    async read(id) {
      return (await redis.getBuffer(`${prefix}${id}`)) ?? undefined;
    },
    async create(id, data) {
      // NX: never overwrite a session that exists.
      const done = await redis.set(`${prefix}${id}`, data, 'EX', lifetime, 'NX');
      if (done !== 'OK') throw new Error('session id already in use');
    },
    async destroy(id) {
      return (await redis.del(`${prefix}${id}`)) > 0;
    },
    checks: [{ ...redisCheck(redis), name: 'legacy-session-redis' }],
    async close() {
      redis.disconnect();
    },
  };
}

/**
 * `timeoutMs`: LEGACY_DATABASE_TIMEOUT_MS, the longest one statement (or one phpredis command)
 * may take before the caller answers 503 legacy_unavailable.
 */
export function createLegacySessionStore(config: SessionBridgeConfig, legacyDb: Knex, logger: Logger, timeoutMs: number): LegacySessionStore {
  if (config.LEGACY_SESSION_STORE === 'redis') {
    const redis = createRedis(`redis://${config.LEGACY_REDIS_HOST}:${config.LEGACY_REDIS_PORT}/0`, { name: 'legacy-session-bridge', commandTimeoutMs: timeoutMs });
    // ioredis reconnects by itself; without a listener each failure would be an unhandled 'error' event.
    redis.on('error', (error: Error) => logger.warn({ err: { message: error.message } }, 'legacy session Redis unavailable'));
    return redisStore(redis, config.LEGACY_SESSION_REDIS_PREFIX, config.LEGACY_SESSION_LIFETIME);
  }
  return tableStore(legacyDb, config.LEGACY_SESSION_TABLE, config.LEGACY_SESSION_LIFETIME, timeoutMs);
}
