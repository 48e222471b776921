/**
 * Test harness for the second sample monolith, legacy-php-2/ (see its README), on the plumbing
 * of scripts/support/legacy-php.ts:
 *
 *   const reason = await legacyPhpUnavailableReason({ db: 'mysql', sessionStore: 'redis' });
 *   const site = await startLegacyPhp2({ db: 'mysql' });     // or 'sqlite'
 *   const browser = new MembersBrowser(site);
 *   await browser.login('anna', 'sunshine04', '/api/orders.php');
 *   await site.stop();                                       // php, the database, the Redis keys
 *
 * startLegacyPhp2(options): db 'mysql' | 'sqlite'; sessionHandler ('redis', the default, 'db':
 * the member_sessions table, or 'files' in `sessionSavePath`); sessionName (MEMBERSID); trustedProxies
 * (MEMBERS_TRUSTED_PROXIES, none by default); proxyUserHeader (X-Remote-User); sessionLifetime;
 * seed (true: the demo members, MEMBERS_DEMO; false: tables only); port; workers; env (more
 * MEMBERS_* variables). Sessions go to the test Redis under a prefix of this instance alone
 * (`sessionPrefix`); `redis` is a client whose keys carry that prefix, so `redis.get(id)` reads
 * the session PHP stores for cookie value `id`. `restart(env)` runs php -S again on the same port
 * with those MEMBERS_* variables changed (another session handler); the database stays.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestRedis } from '../../scripts/support/databases.ts';
import type { Redis } from '../../lib/redis.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  Cleanups,
  LegacyBrowser,
  phpSiteEnv,
  provisionPhpDatabase,
  restartablePhpSite,
  runPhpScript,
  type LegacyPhp,
  type LegacyResponse,
  type PhpSite,
} from '../../scripts/support/legacy-php.ts';

export const LEGACY_PHP_2_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../legacy-php-2');
export const LEGACY_PHP_2_MAPPING = resolve(LEGACY_PHP_2_DIR, '../legacy-adapter/mappings/legacy-php-2.yaml');

const SITE: PhpSite = {
  name: 'legacy-php-2',
  dir: LEGACY_PHP_2_DIR,
  docroot: join(LEGACY_PHP_2_DIR, 'htdocs'),
  healthPath: '/api/ping.php',
  envPrefixes: ['MEMBERS_'],
};

export interface DemoMember {
  id: number;
  handle: string;
  password: string;
  mail: string;
  /** The lib/passwords scheme the legacy-adapter names for this member's hash. */
  scheme: string;
  admin: boolean;
  banned: boolean;
  orders: number;
}

/** What `php legacy-php-2/scripts/seed.php` creates (its README's table). */
export const MEMBERS_DEMO: readonly DemoMember[] = [
  { id: 1, handle: 'anna', password: 'sunshine04', mail: 'anna@members.example', scheme: 'md5', admin: false, banned: false, orders: 2 },
  { id: 2, handle: 'Bernd', password: 'Käsekuchen7', mail: 'bernd@members.example', scheme: 'sha1(salt.password)', admin: false, banned: false, orders: 0 },
  { id: 3, handle: 'clara', password: "clara's cat", mail: 'clara@members.example', scheme: 'phpass-portable-P', admin: false, banned: false, orders: 1 },
  {
    id: 4,
    handle: 'dieter',
    password: 'correct horse battery staple',
    mail: 'dieter@members.example',
    scheme: 'bcrypt-2a',
    admin: false,
    banned: false,
    orders: 0,
  },
  { id: 5, handle: 'emma', password: 'emma-is-admin', mail: 'emma@members.example', scheme: 'bcrypt-2y', admin: true, banned: false, orders: 1 },
  { id: 6, handle: 'frank', password: 'frank-banned', mail: 'frank@members.example', scheme: 'sha1(salt.password)', admin: false, banned: true, orders: 0 },
];

export function demoMember(handle: string): DemoMember {
  const found = MEMBERS_DEMO.find((m) => m.handle === handle);
  if (!found) throw new Error(`no demo member ${handle}`);
  return found;
}

/** The session legacy-php-2's login writes for `member` (php_serialize), byte for byte. */
export function membersSessionData(member: Pick<DemoMember, 'id' | 'handle' | 'admin'>): string {
  const s = (text: string) => `s:${Buffer.byteLength(text, 'utf8')}:"${text}";`;
  return `a:3:{${s('uid')}i:${member.id};${s('uname')}${s(member.handle)}${s('is_admin')}b:${member.admin ? 1 : 0};}`;
}

/** MEMBERS_SESSION_HANDLER: where legacy-php-2 keeps its sessions. */
export type MembersSessionHandler = 'redis' | 'db' | 'files';

export interface LegacyPhp2Options {
  db: 'mysql' | 'sqlite';
  sessionHandler?: MembersSessionHandler;
  sessionName?: string;
  sessionLifetime?: number;
  trustedProxies?: string[];
  proxyUserHeader?: string;
  seed?: boolean;
  port?: number;
  workers?: number;
  env?: Record<string, string>;
}

export interface LegacyPhp2 {
  url: string;
  port: number;
  db: LegacyPhp['db'];
  /** The MEMBERS_* variables php runs with. */
  env: Record<string, string>;
  sessionName: string;
  /** MEMBERS_SESSION_PREFIX: phpredis keys are `<sessionPrefix><session id>`. */
  sessionPrefix: string;
  /** A client whose keys carry sessionPrefix. */
  redis: Redis;
  /** MEMBERS_SESSION_SAVE_PATH: the session files' directory (made whatever the handler). */
  sessionSavePath: string;
  logs(): string;
  /** php -S again on the same port, its MEMBERS_* variables changed by `env`; the database stays. */
  restart(env: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export async function startLegacyPhp2(options: LegacyPhp2Options): Promise<LegacyPhp2> {
  const cleanups = new Cleanups(SITE.name);
  try {
    const sessions = await createTestRedis();
    cleanups.push(() => sessions.cleanup());
    const { dsn, db, user, password } = await provisionPhpDatabase(options.db, undefined, 'members', cleanups);
    const redisUrl = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    const sessionName = options.sessionName ?? 'MEMBERSID';
    const sessionDir = mkdtempSync(join(tmpdir(), 'members-sessions-'));
    cleanups.push(async () => rmSync(sessionDir, { recursive: true, force: true }));
    const env: Record<string, string> = {
      MEMBERS_SESSION_HANDLER: options.sessionHandler ?? 'redis',
      MEMBERS_SESSION_SAVE_PATH: sessionDir,
      MEMBERS_DSN: dsn,
      MEMBERS_DB_USER: user,
      MEMBERS_DB_PASS: password,
      MEMBERS_REDIS_HOST: redisUrl.hostname || '127.0.0.1',
      MEMBERS_REDIS_PORT: redisUrl.port || '6379',
      MEMBERS_SESSION_PREFIX: sessions.prefix,
      MEMBERS_SESSION_NAME: sessionName,
      MEMBERS_TRUSTED_PROXIES: (options.trustedProxies ?? []).join(','),
      ...(options.proxyUserHeader ? { MEMBERS_PROXY_USER_HEADER: options.proxyUserHeader } : {}),
      ...(options.sessionLifetime !== undefined ? { MEMBERS_SESSION_LIFETIME: String(options.sessionLifetime) } : {}),
      ...options.env,
    };
    const childEnv = phpSiteEnv(SITE, env);
    await runPhpScript(SITE, [join(LEGACY_PHP_2_DIR, 'scripts/seed.php'), ...(options.seed === false ? ['--schema-only'] : [])], childEnv);
    const served = await restartablePhpSite(SITE, env, options, cleanups);
    let stopped = false;
    return {
      url: served.url,
      port: served.port,
      logs: served.logs,
      db,
      env,
      sessionName,
      sessionPrefix: sessions.prefix,
      redis: sessions.redis,
      sessionSavePath: sessionDir,
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

/** A cookie-keeping client that knows legacy-php-2's login form (fields handle, pass, redirect). */
export class MembersBrowser extends LegacyBrowser {
  readonly sessionName: string;

  constructor(site: Pick<LegacyPhp2, 'url' | 'sessionName'>) {
    super(site.url);
    this.sessionName = site.sessionName;
  }

  /** Posts the login form; success is a 302 to the redirect target (default /account.php). */
  override login(handle: string, pass: string, redirect?: string): Promise<LegacyResponse> {
    return this.postForm('login.php', { handle, pass, ...(redirect === undefined ? {} : { redirect }) });
  }

  override sessionId(name = this.sessionName): string | undefined {
    return super.sessionId(name);
  }
}
