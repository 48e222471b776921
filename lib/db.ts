import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';

export type { Knex };

export type DatabaseKind = 'sqlite' | 'mysql';

/** A named, ordered migration; the list is code so the same set runs from sources and from dist/. */
export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export function databaseKind(url: string): DatabaseKind {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) return 'mysql';
  throw new Error(`unsupported database URL scheme: ${url.split(':')[0]}: (use sqlite:<file>, sqlite::memory:, or mysql://user:pass@host:port/db)`);
}

export interface DatabaseOptions {
  pool?: { min: number; max: number };
  /**
   * The longest a caller waits before a statement runs: for a MySQL connection to be made and
   * for a free one from the pool; on SQLite, for another process's write lock (busy_timeout,
   * during which better-sqlite3 blocks the thread). Default 5 s to connect, 10 s for the pool,
   * 5 s for SQLite's lock. Bound statements themselves with withDeadline and boundQuery, or all
   * of them with statementMs.
   */
  waitMs?: number;
  /**
   * MySQL: the longest any statement waits for its answer. Past it the statement fails with
   * DatabaseDeadlineError and its connection is closed, so the pool never hands out a connection
   * still waiting on a database that stopped answering (the next caller would queue behind it).
   * For a request path's database, not for migrations (a schema change may take longer).
   * SQLite runs statements synchronously, bounded by its lock wait (waitMs).
   */
  statementMs?: number;
}

/**
 * One URL picks the engine: `sqlite:./data/idp.sqlite` (the embedded default),
 * `sqlite::memory:`, or `mysql://user:pass@host:3306/db` (production; MariaDB too).
 */
export function createDatabase(url: string, options: DatabaseOptions = {}): Knex {
  const { waitMs } = options;
  // knex writes a failed statement into the error's message, by default with every binding
  // filled in: a hash or an e-mail would reach the logs. Off, only the placeholders are.
  const compileSqlOnError = false;
  if (databaseKind(url) === 'sqlite') {
    const file = url.slice('sqlite:'.length);
    const filename = file === ':memory:' ? ':memory:' : resolve(file);
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    return knexFactory({
      client: 'better-sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      compileSqlOnError,
      // SQLite has one writer; one connection avoids SQLITE_BUSY between our own queries.
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma(`busy_timeout = ${Math.trunc(waitMs ?? 5000)}`);
          done(null, conn);
        },
      },
    });
  }
  const parsed = new URL(url.replace(/^mariadb:/, 'mysql:'));
  const { statementMs } = options;
  return knexFactory({
    client: 'mysql2',
    connection: {
      host: parsed.hostname,
      port: Number(parsed.port || 3306),
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      database: decodeURIComponent(parsed.pathname.slice(1)),
      charset: 'utf8mb4',
      timezone: 'Z',
      supportBigNumbers: true,
      connectTimeout: waitMs ?? 5_000,
    },
    pool: { ...(options.pool ?? { min: 0, max: 10 }), ...(statementMs === undefined ? {} : { afterCreate: statementDeadline(statementMs) }) },
    acquireConnectionTimeout: waitMs ?? 10_000,
    compileSqlOnError,
  });
}

/** A database call that did not finish by its deadline; callers answer "unavailable", never "not found". */
export class DatabaseDeadlineError extends Error {
  readonly code = 'DATABASE_DEADLINE';
  readonly ms: number;

  constructor(ms: number) {
    super(`the database did not answer within ${ms} ms`);
    this.name = 'DatabaseDeadlineError';
    this.ms = ms;
  }
}

type QueryCallback = (error: unknown, ...results: unknown[]) => void;
interface RawMysqlConnection {
  query(options: unknown, values: unknown, callback: QueryCallback): unknown;
  destroy(): void;
  stream?: { destroy(): void };
}

/**
 * The pool's afterCreate for statementMs: every statement knex sends on this connection
 * (transactions included: they run on the same connection) gets `ms` for its answer; at `ms` the
 * caller gets a DatabaseDeadlineError and the connection is closed, which also fails it for the
 * pool's validation, so knex drops it instead of reusing it.
 */
function statementDeadline(ms: number) {
  return (connection: RawMysqlConnection, done: (error: Error | null, connection: unknown) => void) => {
    const query = connection.query;
    connection.query = function (this: RawMysqlConnection, options: unknown, values: unknown, callback: QueryCallback) {
      if (typeof callback !== 'function') return query.call(this, options, values, callback);
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        connection.destroy();
        connection.stream?.destroy();
        callback(new DatabaseDeadlineError(ms));
      }, ms);
      return query.call(this, options, values, (error: unknown, ...results: unknown[]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        callback(error, ...results);
      });
    };
    done(null, connection);
  };
}

/** The database could not be reached or did not answer in time: an outage ("try again"), not a bug. */
export function isDatabaseUnavailableError(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | null;
  if (typeof e !== 'object' || e === null) return false;
  return (
    error instanceof DatabaseDeadlineError ||
    e.name === 'KnexTimeoutError' ||
    (typeof e.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST'].includes(e.code))
  );
}

/**
 * What `work` gives if it settles within `ms`, else a DatabaseDeadlineError at `ms`, whatever
 * the driver is doing: waiting for a pool slot, connecting, or cancelling a statement over a
 * connection that no longer answers (knex's own cancel can wait for a whole connect timeout).
 */
export function withDeadline<T>(ms: number, work: () => PromiseLike<T>): Promise<T> {
  const running = Promise.resolve().then(work);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseDeadlineError(ms)), ms);
  });
  // Given up on, it still settles later; that outcome is nobody's to handle.
  running.catch(() => undefined);
  return Promise.race([running, expired]).finally(() => clearTimeout(timer));
}

/**
 * The statement with a server-side limit: on MySQL, knex kills it (KILL QUERY) at `ms`, so a
 * statement stuck behind a lock frees its connection. SQLite runs statements synchronously,
 * bounded by busy_timeout (createDatabase's waitMs) instead.
 */
export function boundQuery<Q extends Knex.QueryBuilder | Knex.Raw>(knex: Knex, query: Q, ms: number): Q {
  return knex.client.config.client === 'mysql2' ? (query.timeout(ms, { cancel: true }) as Q) : query;
}

/**
 * One statement within `ms` all told: killed on the server at `ms` (boundQuery) and given up on
 * by the caller then too (withDeadline), whatever the pool or the connection is doing.
 */
export function queryWithin<T>(knex: Knex, ms: number, build: () => Knex.QueryBuilder | Knex.Raw): Promise<T> {
  return withDeadline(ms, () => boundQuery(knex, build(), ms) as PromiseLike<T>);
}

/**
 * A service's database for its request path: every statement, new connection and pool slot
 * within `timeoutMs` (statementMs and waitMs), so a database that stops answering costs a request
 * `timeoutMs`, never its caller's whole timeout. `migrations`, when given, are applied first, on
 * MySQL through a connection without that limit: a schema change may take longer than a request
 * may wait. (SQLite has no such limit, and sqlite::memory: is only the one connection.)
 */
export async function openServiceDatabase(
  url: string,
  timeoutMs: number,
  migrations?: { list: Migration[]; tableName?: string },
): Promise<{ knex: Knex; applied: string[] }> {
  const knex = createDatabase(url, { waitMs: timeoutMs, statementMs: timeoutMs });
  if (!migrations) return { knex, applied: [] };
  const migrator = databaseKind(url) === 'mysql' ? createDatabase(url, { pool: { min: 0, max: 1 } }) : knex;
  try {
    return { knex, applied: await migrate(migrator, migrations.list, migrations.tableName) };
  } catch (error) {
    if (migrator !== knex) await knex.destroy();
    throw error;
  } finally {
    if (migrator !== knex) await migrator.destroy();
  }
}

/** Errors that mean another replica is creating knex's bookkeeping tables or holds its lock right now. */
function isConcurrentMigration(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string };
  return (
    e.name === 'MigrationLocked' ||
    e.code === 'ER_TABLE_EXISTS_ERROR' ||
    e.code === 'ER_DUP_ENTRY' ||
    e.code === 'SQLITE_BUSY' ||
    (e.code === 'SQLITE_ERROR' && /already exists/.test(e.message ?? ''))
  );
}

/** How long a start waits for another process's migration (a lock left by a killed one needs ops: `knex_migrations_lock`). */
const MIGRATION_LOCK_WAIT_MS = 60_000;

/**
 * knex creates its lock table's one row by a select, then an insert: two processes creating the
 * table at once (two gateway workers on a fresh database) can each insert one, and with two rows
 * the lock can never be taken again (knex wants its update to change exactly one row), so every
 * later start waits out its deadline. Keeps the first row, and only while no row is held.
 */
async function repairLockRows(knex: Knex, tableName: string): Promise<void> {
  const lockTable = `${tableName}_lock`;
  if (!(await knex.schema.hasTable(lockTable))) return;
  const rows = (await knex(lockTable).select('index', 'is_locked').orderBy('index')) as { index: number; is_locked: unknown }[];
  if (rows.length > 1 && rows.every((r) => Number(r.is_locked) === 0)) await knex(lockTable).where('index', '>', rows[0]!.index).del();
}

/** Runs `migrations` in order, each once; safe to call from several replicas at start (knex locks). */
export async function migrate(knex: Knex, migrations: Migration[], tableName = 'knex_migrations', options: { lockWaitMs?: number } = {}): Promise<string[]> {
  const source: Knex.MigrationSource<Migration> = {
    getMigrations: async () => migrations,
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({ up: m.up, down: m.down }),
  };
  // Another replica (or another worker of this one) holding the migration lock is migrating the
  // same list: wait for it, by the clock rather than a count of tries, so a machine busy enough to
  // slow that migration down does not fail this start.
  const deadline = Date.now() + (options.lockWaitMs ?? MIGRATION_LOCK_WAIT_MS);
  for (;;) {
    try {
      const [, applied] = (await knex.migrate.latest({ migrationSource: source, tableName })) as [number, string[]];
      return applied;
    } catch (error) {
      if (!isConcurrentMigration(error) || Date.now() > deadline) throw error;
      if ((error as { name?: string }).name === 'MigrationLocked') await repairLockRows(knex, tableName);
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100));
    }
  }
}

export function databaseCheck(knex: Knex) {
  return { name: 'database', check: () => knex.raw('select 1') };
}
