// Real databases for tests: a throwaway MariaDB database or SQLite file per use, and a Redis
// key prefix per run. A service that is truly absent makes its tests skip loudly, never silently.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createDatabase, type Knex } from '../../lib/db.ts';
import { createRedis, type Redis } from '../../lib/redis.ts';

export const MARIADB_ADMIN_URL = process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/';
export const REDIS_TEST_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let mariadbUp: Promise<string | undefined> | undefined;
/** undefined when MariaDB answers, else why not. */
export function mariadbProblem(): Promise<string | undefined> {
  mariadbUp ??= (async () => {
    const admin = createDatabase(MARIADB_ADMIN_URL, { pool: { min: 0, max: 1 } });
    try {
      await admin.raw('select 1');
      return undefined;
    } catch (error) {
      return (error as Error).message;
    } finally {
      await admin.destroy();
    }
  })();
  return mariadbUp;
}

let redisUp: Promise<string | undefined> | undefined;
export function redisProblem(): Promise<string | undefined> {
  redisUp ??= (async () => {
    const redis = createRedis(REDIS_TEST_URL);
    redis.on('error', () => undefined);
    try {
      await redis.ping();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    } finally {
      redis.disconnect();
    }
  })();
  return redisUp;
}

export function skipLoudly(t: TestContext, what: string, why: string): void {
  const message = `SKIPPED: ${what} is not reachable (${why}); these tests did NOT run`;
  console.warn(`\n*** ${message} ***\n`);
  t.skip(message);
}

export interface TestDatabase {
  kind: 'sqlite' | 'mysql';
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

/** Creates a fresh, empty MariaDB database (name random) and returns a knex on it. */
export async function createMariaDbDatabase(prefix = 'idm_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = createDatabase(MARIADB_ADMIN_URL, { pool: { min: 0, max: 1 } });
  await admin.raw(`create database \`${name}\` character set utf8mb4 collate utf8mb4_unicode_ci`);
  await admin.destroy();
  const url = `${MARIADB_ADMIN_URL.replace(/\/$/, '')}/${name}`;
  const knex = createDatabase(url);
  return {
    kind: 'mysql',
    url,
    knex,
    async drop() {
      await knex.destroy();
      const cleanup = createDatabase(MARIADB_ADMIN_URL, { pool: { min: 0, max: 1 } });
      await cleanup.raw(`drop database if exists \`${name}\``);
      await cleanup.destroy();
    },
  };
}

export async function createSqliteDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'idm-test-'));
  const url = `sqlite:${join(dir, 'test.sqlite')}`;
  const knex = createDatabase(url);
  return {
    kind: 'sqlite',
    url,
    knex,
    async drop() {
      await knex.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway database of `kind`, named after `prefix` on MariaDB. */
export function createDatabaseOfKind(kind: 'sqlite' | 'mysql', prefix = 'idm_test'): Promise<TestDatabase> {
  return kind === 'mysql' ? createMariaDbDatabase(prefix) : createSqliteDatabase();
}

export const databaseKinds = ['sqlite', 'mysql'] as const;

/**
 * Registers `body` once per engine as a subtest: the same assertions against SQLite and
 * MariaDB. MariaDB being down skips its half loudly.
 */
export async function forEachDatabase(t: TestContext, body: (t: TestContext, db: TestDatabase) => Promise<void>): Promise<void> {
  for (const kind of databaseKinds) {
    await t.test(kind, async (st) => {
      if (kind === 'mysql') {
        const problem = await mariadbProblem();
        if (problem) return skipLoudly(st, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
      }
      const db = kind === 'mysql' ? await createMariaDbDatabase() : await createSqliteDatabase();
      try {
        await body(st, db);
      } finally {
        await db.drop();
      }
    });
  }
}

/** A Redis connection whose keys all carry a prefix unique to this run; `cleanup` deletes them. */
export async function createTestRedis(): Promise<{ redis: Redis; prefix: string; cleanup(): Promise<void> }> {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  const redis = createRedis(REDIS_TEST_URL, { keyPrefix: prefix });
  return {
    redis,
    prefix,
    async cleanup() {
      const raw = createRedis(REDIS_TEST_URL);
      let cursor = '0';
      do {
        const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await raw.del(...keys);
      } while (cursor !== '0');
      raw.disconnect();
      redis.disconnect();
    },
  };
}
