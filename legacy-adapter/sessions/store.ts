import type { Knex } from 'knex';
import { queryWithin } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import { createRedis, redisCheck, type Redis } from '../../lib/redis.ts';
import type { SessionStoreSettings } from '../mapping-format/session-schema.ts';
import { filesStore } from './files-store.ts';
import type { LegacySessionStore } from './legacy-session-store.ts';
import type { SessionSettings } from './settings.ts';
import { safeError } from '../../lib/safe-error.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** A DATETIME as `YYYY-MM-DD HH:MM:SS` in UTC: compared as text by SQLite, as a DATETIME by MySQL. */
const datetime = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');

/**
 * A sessions table as a custom PHP save handler keeps it (legacy-php's DbSessionHandler): a row
 * (id, data, last access) alive while the last access is within the lifetime. A plain INSERT,
 * never an upsert: a session PHP already has is never rewritten under it. Each statement has the
 * legacy database's deadline: the table is the monolith's, and a lock it holds must not hold our
 * requests.
 */
function tableStore(knex: Knex, settings: Extract<SessionStoreSettings, { type: 'table' }>, lifetime: number, timeoutMs: number): LegacySessionStore {
  const { table, columns } = settings;
  const stamp = (seconds: number) => (settings.timestamp === 'unix' ? seconds : datetime(seconds));
  const query = <T>(build: () => Knex.QueryBuilder) => queryWithin<T>(knex, timeoutMs, build);
  return {
    async read(id) {
      // The handler's own read condition: last access >= now - lifetime.
      const row = await query<{ data?: unknown } | undefined>(() =>
        knex(table)
          .select({ data: columns.data })
          .where(columns.id, id)
          .andWhere(columns.timestamp, '>=', stamp(nowSeconds() - lifetime))
          .first(),
      );
      if (!row || row.data === null || row.data === undefined) return undefined;
      return Buffer.isBuffer(row.data) ? row.data : Buffer.from(String(row.data), 'utf8');
    },
    async create(id, data) {
      await query(() => knex(table).insert({ [columns.id]: id, [columns.data]: data, [columns.timestamp]: stamp(nowSeconds()) }));
    },
    async destroy(id) {
      return (await query<number>(() => knex(table).where(columns.id, id).delete())) > 0;
    },
    checks: [],
    async close() {},
  };
}

/** phpredis's save handler: `<prefix><id>` holding the data, with the TTL (default the lifetime). */
function redisStore(redis: Redis, prefix: string, ttl: number): LegacySessionStore {
  return {
    async read(id) {
      return (await redis.getBuffer(`${prefix}${id}`)) ?? undefined;
    },
    async create(id, data) {
      // NX: never overwrite a session that exists.
      const done = await redis.set(`${prefix}${id}`, data, 'EX', ttl, 'NX');
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

/** phpredis's session.save_path as a redis:// URL (the password is encoded, never logged). */
export function phpredisUrl(redis: SessionSettings['redis']): string {
  const auth = redis.password === undefined ? '' : `:${encodeURIComponent(redis.password)}@`;
  return `redis://${auth}${redis.host}:${redis.port}/${redis.db}`;
}

/**
 * `timeoutMs`: LEGACY_DATABASE_TIMEOUT_MS, the longest one statement (or one phpredis command)
 * may take before the caller answers 503 legacy_unavailable.
 */
export function createLegacySessionStore(settings: SessionSettings, legacyDb: Knex, logger: Logger, timeoutMs: number): LegacySessionStore {
  const { store } = settings;
  if (store.type === 'phpredis') {
    const redis = createRedis(phpredisUrl(settings.redis), { name: 'legacy-session-bridge', commandTimeoutMs: timeoutMs });
    // ioredis reconnects by itself; without a listener each failure would be an unhandled 'error' event.
    redis.on('error', (error: Error) => logger.warn({ err: safeError(error) }, 'legacy session Redis unavailable'));
    return redisStore(redis, store.prefix, store.ttl ?? settings.lifetime);
  }
  if (store.type === 'files') return filesStore(store.save_path, settings.lifetime);
  return tableStore(legacyDb, store, settings.lifetime, timeoutMs);
}
