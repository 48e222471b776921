/**
 * Test harness for the sample legacy PHP monolith in legacy-php/ (see legacy-php/README.md).
 *
 *   import { startLegacyPhp, legacyPhpUnavailableReason } from './legacy-php.ts';
 *
 *   const reason = await legacyPhpUnavailableReason({ db: 'mysql' });  // null when it can run
 *   const php = await startLegacyPhp({ db: 'mysql' });                  // or { db: 'sqlite' }
 *   await fetch(`${php.url}/login.php`);                                // http://127.0.0.1:<port>
 *   await php.stop();                                                   // kills php, drops the DB
 *
 * startLegacyPhp(options):
 *   db             'mysql' | 'sqlite' (required)
 *   database       mysql: database name to use instead of a throwaway `legacy_test_<random>`;
 *                  sqlite: file path instead of a temp file. Given databases are created if
 *                  missing and are NOT dropped/deleted by stop(). Throwaway ones are.
 *   sessionStore   'db' (default: the sessions table) | 'redis' (phpredis, PHPREDIS_SESSION:<id>)
 *                  | 'files' (PHP's own sess_<id> files in a temp directory, `sessionSavePath`)
 *   sessionName    session cookie name (default PHPSESSID)
 *   sessionLifetime idle seconds (default 1440)
 *   seed           true (default): schema + demo users (LEGACY_DEMO_USERS); false: schema only
 *   seedUsers      also add this many synthetic users user000001... (md5/salted md5/sha1/bcrypt-4)
 *   seedPassword   password of every seeded user (default LEGACY_DEMO_PASSWORD)
 *   port           fixed port; default: a free one
 *   workers        PHP_CLI_SERVER_WORKERS, concurrent requests php -S serves (default 4)
 *   env            extra environment for php (and seed.php), e.g. { LEGACY_SESSION_LIFETIME: '60' }
 *
 * It resolves to a LegacyPhp once GET /api/health.php answers 200: `url` (no trailing slash),
 * `dsn` (the PDO DSN php uses), `env` (the LEGACY_* variables php was started with), `db`
 * (with a project-style `url` — mysql://... or sqlite:<file> — that lib/db.ts createDatabase
 * accepts), `redisUrl`, `logs()` (php's recent stderr), `restart(env)` (php -S again on the
 * same port with those variables changed, e.g. another session store; the database stays) and
 * `stop()` (idempotent).
 *
 * Servers: MySQL/MariaDB from TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306), Redis from
 * TEST_REDIS_URL (default redis://127.0.0.1:6379), php from PATH (or PHP_BINARY).
 *
 * Other PHP sites (legacy-php-2, test/support/legacy-php-2.ts) start on the same plumbing: a
 * PhpSite (its directory, document root, router, health page and own variable prefixes),
 * provisionPhpDatabase, phpSiteEnv, runPhpScript (the seed) and servePhpSite, with Cleanups.
 *
 * Also here: describeOrSkip(name, reason, fn) (loud skips), LEGACY_DEMO_USERS / LEGACY_DEMO_PASSWORD (what seed.php creates), legacyKnex(php)
 * (a knex on the instance's database), legacySessionData(id, login) (the session format a
 * bridge writes) and LegacyBrowser (cookie-keeping client that knows the login form).
 */
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { describe, test } from 'node:test';

const execFileAsync = promisify(execFile);

export const LEGACY_PHP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../legacy-php');
export const LEGACY_DEMO_PASSWORD = 'correct horse battery staple';

export type LegacyScheme =
  | 'bcrypt'
  | 'bcrypt-2a'
  | 'argon2id'
  | 'md5'
  | 'md5-salt'
  | 'sha1'
  | 'sha1-salt'
  | 'sha256'
  | 'phpass-P'
  | 'phpass-H'
  | 'md5-crypt'
  | 'sha256-crypt'
  | 'sha512-crypt'
  | 'des-crypt';

export interface LegacyDemoUser {
  login: string;
  email: string;
  displayName: string;
  scheme: LegacyScheme;
  active: boolean;
}

/** The users `php legacy-php/seed.php` creates, in insertion order (user_id 1..15 on a fresh DB). */
export const LEGACY_DEMO_USERS: readonly LegacyDemoUser[] = [
  { login: 'alice', email: 'alice@example.com', displayName: 'Alice Anderson', scheme: 'bcrypt', active: true },
  { login: 'bob', email: 'bob@example.com', displayName: 'Bob Brown', scheme: 'md5', active: true },
  { login: 'carol', email: 'carol@example.com', displayName: 'Carol Clark', scheme: 'md5-salt', active: true },
  { login: 'dave', email: 'dave@example.com', displayName: "Dave O'Brien <Ops & Infra>", scheme: 'sha1', active: true },
  { login: 'erin', email: 'erin@example.com', displayName: 'Erin Evans', scheme: 'phpass-P', active: true },
  { login: 'frank', email: 'frank@example.com', displayName: 'Frank Fischer', scheme: 'sha512-crypt', active: true },
  { login: 'grace', email: 'grace@example.com', displayName: 'Grace Green', scheme: 'md5-crypt', active: true },
  { login: 'heidi', email: 'heidi@example.com', displayName: 'Heidi Hoffmann', scheme: 'argon2id', active: true },
  { login: 'ivan', email: 'ivan@example.com', displayName: 'Ivan Ivanov', scheme: 'des-crypt', active: true },
  { login: 'judy', email: 'judy@example.com', displayName: 'Judy Jones (disabled)', scheme: 'bcrypt', active: false },
  { login: 'ken', email: 'ken@example.com', displayName: 'Ken Kowalski', scheme: 'bcrypt-2a', active: true },
  { login: 'liam', email: 'liam@example.com', displayName: 'Liam Lee', scheme: 'sha1-salt', active: true },
  { login: 'mia', email: 'mia@example.com', displayName: 'Mia Müller', scheme: 'sha256', active: true },
  { login: 'nina', email: 'nina@example.com', displayName: 'Nina Novak', scheme: 'sha256-crypt', active: true },
  { login: 'oscar', email: 'oscar@example.com', displayName: 'Oscar Olsen', scheme: 'phpass-H', active: true },
];

export type LegacySessionStore = 'db' | 'redis' | 'files';

export interface LegacyPhpOptions {
  db: 'mysql' | 'sqlite';
  database?: string;
  sessionStore?: LegacySessionStore;
  sessionName?: string;
  sessionLifetime?: number;
  seed?: boolean;
  seedUsers?: number;
  seedPassword?: string;
  port?: number;
  workers?: number;
  env?: Record<string, string>;
}

export interface LegacyPhp {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  port: number;
  /** The PDO DSN php was given (LEGACY_DB_DSN). */
  dsn: string;
  /** The LEGACY_* (and extra) variables php and seed.php ran with. */
  env: Record<string, string>;
  db: {
    kind: 'mysql' | 'sqlite';
    /** mysql://user:pass@host:port/name or sqlite:<absolute file>; lib/db.ts createDatabase takes it. */
    url: string;
    /** mysql database name, or the sqlite file. */
    name: string;
    /** mysql server connection, for tests that want to query directly. */
    mysql?: { host: string; port: number; user: string; password: string; database: string };
    /** sqlite file path. */
    file?: string;
  };
  sessionStore: LegacySessionStore;
  sessionName: string;
  /** The directory of the session files (LEGACY_SESSION_SAVE_PATH), made for sessionStore 'files'. */
  sessionSavePath: string;
  redisUrl: string;
  seedPassword: string;
  /** Last lines php -S wrote (request log, PHP warnings). */
  logs(): string;
  /** php -S again on the same port, its variables changed by `env` (another session store); the database stays. */
  restart(env: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

function mysqlServer() {
  const url = new URL(process.env.TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306');
  return {
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
  };
}

function redisServer() {
  const raw = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
  const url = new URL(raw);
  return { url: raw, host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) };
}

function phpBinary(): string {
  return process.env.PHP_BINARY || 'php';
}

let phpModulesCache: Set<string> | null | undefined;

function phpModules(): Set<string> | null {
  if (phpModulesCache !== undefined) return phpModulesCache;
  const result = spawnSync(phpBinary(), ['-m'], { encoding: 'utf8', timeout: 10_000 });
  phpModulesCache =
    result.status === 0
      ? new Set(
          result.stdout
            .split('\n')
            .map((line) => line.trim().toLowerCase())
            .filter(Boolean),
        )
      : null;
  return phpModulesCache;
}

/** True when a php CLI (PHP_BINARY or `php` on PATH) runs. */
export function phpAvailable(): boolean {
  return phpModules() !== null;
}

/**
 * Why startLegacyPhp(options) cannot work here (php, an extension, MySQL or Redis missing),
 * or null when it can. Meant for describeOrSkip(name, reason, fn).
 */
export async function legacyPhpUnavailableReason(options: { db: 'mysql' | 'sqlite'; sessionStore?: LegacySessionStore }): Promise<string | null> {
  const modules = phpModules();
  if (modules === null) return `php CLI not found (${phpBinary()}): install php-cli to run the legacy PHP tests`;
  const needed = ['pdo', options.db === 'mysql' ? 'pdo_mysql' : 'pdo_sqlite', 'session'];
  if (options.sessionStore === 'redis') needed.push('redis');
  const missing = needed.filter((m) => !modules.has(m));
  if (missing.length > 0) return `php extension(s) missing: ${missing.join(', ')}`;
  if (options.db === 'mysql') {
    const server = mysqlServer();
    try {
      const conn = await mysql.createConnection({ ...server, connectTimeout: 3_000 });
      await conn.end();
    } catch (error) {
      return `MySQL/MariaDB not reachable at ${server.host}:${server.port} (TEST_MYSQL_URL): ${(error as Error).message}`;
    }
  }
  if (options.sessionStore === 'redis') {
    const server = redisServer();
    const redis = new Redis({
      host: server.host,
      port: server.port,
      lazyConnect: true,
      connectTimeout: 3_000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      return `Redis not reachable at ${server.host}:${server.port} (TEST_REDIS_URL): ${(error as Error).message}`;
    } finally {
      redis.disconnect();
    }
  }
  return null;
}

/**
 * describe(name, fn) when `reason` is null; otherwise a loud skip: a console.warn and one test
 * that calls t.skip(reason), so the run's summary counts it as skipped rather than hiding it.
 */
export function describeOrSkip(name: string, reason: string | null, fn: () => void): void {
  if (reason === null) {
    describe(name, fn);
    return;
  }
  console.warn(`SKIPPING ${name}: ${reason}`);
  test(name, (t) => {
    t.skip(reason);
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // php -S with workers forks; the group (detached: true) holds them all.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test run that dies without stop() must not leave php servers behind.
  process.once('exit', () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  });
}

/** A site php -S serves: where its files are and which page says it is up. */
export interface PhpSite {
  /** For messages: `legacy-php`, `legacy-php-2`. */
  name: string;
  /** The working directory of php. */
  dir: string;
  docroot: string;
  /** The built-in server's router script, when the site has one. */
  router?: string;
  /** Answers 200 once the database (and session store) can be used. */
  healthPath: string;
  /** Variable prefixes of the outer environment never passed to php: the site's own settings. */
  envPrefixes: string[];
}

const LEGACY_PHP_SITE: PhpSite = {
  name: 'legacy-php',
  dir: LEGACY_PHP_DIR,
  docroot: join(LEGACY_PHP_DIR, 'public'),
  router: join(LEGACY_PHP_DIR, 'public/router.php'),
  healthPath: '/api/health.php',
  envPrefixes: ['LEGACY_'],
};

/** Cleanups run newest first; one failing does not stop the others. */
export class Cleanups {
  readonly #fns: Array<() => Promise<void>> = [];
  readonly #label: string;

  constructor(label: string) {
    this.#label = label;
  }

  push(fn: () => Promise<void>): void {
    this.#fns.push(fn);
  }

  async run(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) {
      try {
        await fn();
      } catch (error) {
        console.warn(`${this.#label} harness cleanup: ${(error as Error).message}`);
      }
    }
  }
}

export interface PhpDatabase {
  /** The PDO DSN for php. */
  dsn: string;
  /** MySQL credentials for php (empty for SQLite). */
  user: string;
  password: string;
  db: LegacyPhp['db'];
}

/**
 * A MySQL database or SQLite file for a php site: `database` names one to use (created if
 * missing, kept), else a throwaway `<prefix>_<random>` / temp file that `cleanups` removes.
 */
export async function provisionPhpDatabase(kind: 'mysql' | 'sqlite', database: string | undefined, prefix: string, cleanups: Cleanups): Promise<PhpDatabase> {
  if (kind === 'sqlite') {
    let file: string;
    if (database !== undefined) {
      file = resolve(database);
      mkdirSync(dirname(file), { recursive: true });
    } else {
      const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      file = join(dir, `${prefix}.sqlite`);
    }
    return { dsn: `sqlite:${file}`, user: '', password: '', db: { kind: 'sqlite', url: `sqlite:${file}`, name: file, file } };
  }
  const server = mysqlServer();
  const name = database ?? `${prefix}_test_${randomBytes(6).toString('hex')}`;
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`invalid MySQL database name: ${name}`);
  const conn = await mysql.createConnection({ ...server, connectTimeout: 5_000 });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
  if (database === undefined) {
    cleanups.push(async () => {
      const c = await mysql.createConnection({ ...server, connectTimeout: 5_000 });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    });
  }
  const auth = server.password ? `${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}` : encodeURIComponent(server.user);
  return {
    dsn: `mysql:host=${server.host};port=${server.port};dbname=${name}`,
    user: server.user,
    password: server.password,
    db: { kind: 'mysql', url: `mysql://${auth}@${server.host}:${server.port}/${name}`, name, mysql: { ...server, database: name } },
  };
}

/** The process environment with the site's own variables replaced by `env`. */
export function phpSiteEnv(site: PhpSite, env: Record<string, string>): Record<string, string> {
  // Settings from the outer environment must not leak into the instance.
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !site.envPrefixes.some((p) => key.startsWith(p)) && key !== 'PHP_CLI_SERVER_WORKERS') base[key] = value;
  }
  return { ...base, ...env };
}

/** Runs a php CLI script of the site (a seed) to completion; its output is in the error when it fails. */
export async function runPhpScript(site: PhpSite, args: string[], env: Record<string, string>): Promise<void> {
  try {
    await execFileAsync(phpBinary(), args, { cwd: site.dir, env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${site.name} ${args[0] ?? ''} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: error });
  }
}

export interface ServedPhpSite {
  url: string;
  port: number;
  logs(): string;
  /** Stops this php -S (the site's cleanups would too). */
  stop(): Promise<void>;
}

/**
 * php -S for the site on 127.0.0.1 (a free port unless `port`), resolved once its health page
 * answers 200; `cleanups` stops it.
 */
export async function servePhpSite(
  site: PhpSite,
  env: Record<string, string>,
  options: { port?: number; workers?: number },
  cleanups: Cleanups,
): Promise<ServedPhpSite> {
  const workers = options.workers ?? 4;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < (options.port === undefined ? 5 : 1); attempt++) {
    const port = options.port ?? (await freePort());
    const started = await spawnPhpServer(site, port, workers, env);
    if ('error' in started) {
      lastError = started.error;
      if (!started.addressInUse) break;
      continue;
    }
    const { child, logs } = started;
    const stop = () => stopChild(child);
    cleanups.push(stop);
    return { url: `http://127.0.0.1:${port}`, port, logs, stop };
  }
  throw lastError ?? new Error(`${site.name}: could not start php -S`);
}

/**
 * A site php -S serves that can be started again on its port with other variables (a site's
 * settings are read per request, but php -S passes its own environment only). The port may
 * linger for a moment after the old server is gone: a few tries.
 */
export async function restartablePhpSite(
  site: PhpSite,
  env: Record<string, string>,
  options: { port?: number; workers?: number },
  cleanups: Cleanups,
): Promise<ServedPhpSite & { restart(more: Record<string, string>): Promise<void> }> {
  let served = await servePhpSite(site, phpSiteEnv(site, env), options, cleanups);
  return {
    get url() {
      return served.url;
    },
    port: served.port,
    logs: () => served.logs(),
    stop: () => served.stop(),
    async restart(more) {
      await served.stop();
      Object.assign(env, more);
      for (let attempt = 1; ; attempt++) {
        try {
          served = await servePhpSite(site, phpSiteEnv(site, env), { ...options, port: served.port }, cleanups);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    },
  };
}

/** Starts the legacy PHP site on 127.0.0.1; see the comment at the top of this file. */
export async function startLegacyPhp(options: LegacyPhpOptions): Promise<LegacyPhp> {
  const cleanups = new Cleanups('legacy-php');
  try {
    const sessionStore = options.sessionStore ?? 'db';
    const sessionName = options.sessionName ?? 'PHPSESSID';
    const seedPassword = options.seedPassword ?? LEGACY_DEMO_PASSWORD;
    const redis = redisServer();
    const { dsn, db, user, password } = await provisionPhpDatabase(options.db, options.database, 'legacy', cleanups);

    const env: Record<string, string> = {};
    if (options.db === 'mysql') Object.assign(env, { LEGACY_DB_USER: user, LEGACY_DB_PASSWORD: password });
    Object.assign(env, {
      LEGACY_DB_DSN: dsn,
      LEGACY_SESSION_STORE: sessionStore,
      LEGACY_SESSION_NAME: sessionName,
      LEGACY_REDIS_HOST: redis.host,
      LEGACY_REDIS_PORT: String(redis.port),
      LEGACY_SEED_PASSWORD: seedPassword,
    });
    // A directory of its own for the session files whatever the store, so a restart may switch to them.
    const sessionDir = mkdtempSync(join(tmpdir(), 'legacy-sessions-'));
    cleanups.push(async () => rmSync(sessionDir, { recursive: true, force: true }));
    env.LEGACY_SESSION_SAVE_PATH = sessionDir;
    if (options.sessionLifetime !== undefined) env.LEGACY_SESSION_LIFETIME = String(options.sessionLifetime);
    Object.assign(env, options.env ?? {});
    const childEnv = phpSiteEnv(LEGACY_PHP_SITE, env);

    const seedArgs = [join(LEGACY_PHP_DIR, 'seed.php')];
    if (options.seed === false) seedArgs.push('--schema-only');
    else if (options.seedUsers) seedArgs.push(`--users=${options.seedUsers}`);
    await runPhpScript(LEGACY_PHP_SITE, seedArgs, childEnv);

    const served = await restartablePhpSite(LEGACY_PHP_SITE, env, options, cleanups);
    let stopped = false;
    return {
      url: served.url,
      port: served.port,
      logs: served.logs,
      dsn,
      env,
      db,
      get sessionStore() {
        return env.LEGACY_SESSION_STORE as LegacySessionStore;
      },
      sessionName,
      sessionSavePath: sessionDir,
      redisUrl: redis.url,
      seedPassword,
      restart: (more) => served.restart(more),
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanups.run();
      },
    };
  } catch (error) {
    await cleanups.run();
    throw error;
  }
}

type Spawned = { child: ChildProcess; logs: () => string } | { error: Error; addressInUse: boolean };

async function spawnPhpServer(site: PhpSite, port: number, workers: number, env: Record<string, string>): Promise<Spawned> {
  const args = ['-S', `127.0.0.1:${port}`, '-t', site.docroot, ...(site.router ? [site.router] : [])];
  const child = spawn(phpBinary(), args, {
    cwd: site.dir,
    env: { ...env, PHP_CLI_SERVER_WORKERS: String(workers) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  installExitHook();
  running.add(child);
  child.once('exit', () => running.delete(child));

  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 500) lines.splice(0, lines.length - 500);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const logs = () => lines.join('\n');

  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}${site.healthPath}`;
  const deadline = Date.now() + 15_000;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await response.text();
      if (response.status === 200) return { child, logs };
      lastProblem = `HTTP ${response.status}: ${body.slice(0, 300)}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopChild(child);
  const output = logs();
  return {
    error: new Error(`${site.name}: php -S on port ${port} did not become healthy (${exited ? 'php exited' : lastProblem})\n${output}`),
    addressInUse: /Address already in use|Failed to listen/i.test(output),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, 'SIGKILL'); // forked workers, if any outlived the main process
    return;
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  killGroup(child, 'SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 3_000).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    killGroup(child, 'SIGKILL');
    await exited;
  }
}

/**
 * A knex connected to the instance's database (mysql2 or better-sqlite3), for tests that read
 * or write the users/sessions tables directly. The caller must `await knex.destroy()`.
 */
export function legacyKnex(php: Pick<LegacyPhp, 'db'>): Knex {
  if (php.db.kind === 'sqlite') {
    return knexFactory({
      client: 'better-sqlite3',
      connection: { filename: php.db.file ?? php.db.name },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          conn.pragma('busy_timeout = 5000');
          done(null, conn);
        },
      },
    });
  }
  const m = php.db.mysql;
  if (!m) throw new Error('legacyKnex: mysql connection details missing');
  return knexFactory({
    client: 'mysql2',
    connection: { ...m, charset: 'utf8mb4' },
    pool: { min: 0, max: 2 },
  });
}

/** PHP's `php` serialize_handler format for a logged-in session: user_id|i:42;login|s:5:"alice"; */
export function legacySessionData(userId: number, login: string): string {
  return `user_id|i:${userId};login|s:${Buffer.byteLength(login, 'utf8')}:"${login}";`;
}

export interface LegacyResponse {
  status: number;
  headers: Headers;
  body: string;
  /** Location header resolved against the request URL, or null. */
  location: URL | null;
}

/**
 * A minimal browser for the legacy site: keeps cookies (one host, path /), never follows
 * redirects, and knows the login form. `await new LegacyBrowser(php.url).login('alice', pw)`.
 */
export class LegacyBrowser {
  readonly baseUrl: string;
  readonly cookies = new Map<string, string>();

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async request(path: string, init: RequestInit = {}): Promise<LegacyResponse> {
    const url = new URL(path, this.baseUrl + '/');
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual', signal: init.signal ?? AbortSignal.timeout(15_000) });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = value === '' || value === 'deleted' || attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = response.headers.get('location');
    return { status: response.status, headers: response.headers, body: await response.text(), location: location ? new URL(location, url) : null };
  }

  get(path: string): Promise<LegacyResponse> {
    return this.request(path);
  }

  postForm(path: string, fields: Record<string, string>): Promise<LegacyResponse> {
    return this.request(path, { method: 'POST', body: new URLSearchParams(fields) });
  }

  /** GETs `path` and returns the csrf_token of its form. */
  async csrfToken(path: string): Promise<string> {
    const page = await this.get(path);
    const match = /name="csrf_token" value="([^"]+)"/.exec(page.body);
    if (!match?.[1]) throw new Error(`no csrf_token on ${path} (HTTP ${page.status})`);
    return match[1];
  }

  /** Fills in and posts login.php; success is a 302 to account.php. */
  async login(login: string, password: string): Promise<LegacyResponse> {
    const csrf_token = await this.csrfToken('login.php');
    return this.postForm('login.php', { csrf_token, login, password });
  }

  sessionId(name = 'PHPSESSID'): string | undefined {
    return this.cookies.get(name);
  }
}
