// The two sample monoliths as the cutover matrix sees them: each one's shipped files (mapping,
// routes, resources), its demo users, how its pages show who is logged in, its own login form
// and logout control, its JSON API, and where each session store keeps a session. Everything
// the product is given comes from these files and variables; nothing here reaches the product
// but them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { LEGACY_DEMO_PASSWORD, LEGACY_DEMO_USERS, legacyKnex, startLegacyPhp } from '../../scripts/support/legacy-php.ts';
import { LEGACY_PHP_2_MAPPING, MEMBERS_DEMO, startLegacyPhp2 } from '../support/legacy-php-2.ts';
import { repoRoot } from '../../scripts/support/processes.ts';

/** The session stores the product supports, by the mapping's `session.store.type`. */
export type StoreKind = 'table' | 'phpredis' | 'files';
export const STORES: readonly StoreKind[] = ['table', 'phpredis', 'files'];

export interface DemoUser {
  login: string;
  password: string;
}

export interface MonolithApi {
  /** A JSON page of the monolith behind the routes file's `api` route. */
  path: string;
  /** The route's audience and the scope its GET needs; `otherScope` is one of the same API that is not enough. */
  audience: string;
  readScope: string;
  otherScope: string;
  /** The login of the user the answer is about. */
  userOf(json: unknown): string;
}

/** A sample monolith running for the matrix (php -S, its database), switchable between session stores. */
export interface Monolith {
  name: string;
  url: string;
  healthPath: string;
  dbUrl: string;
  sessionName: string;
  routesFile: string;
  resourcesFile: string;
  /** Active demo users, who can sign in. */
  users: readonly DemoUser[];
  api: MonolithApi;
  /** Where the flipped login page is entered (with the page's own return parameter, if it has one), and where it must end. */
  loginEntry: string;
  loginLanding: string;
  /** The user the page's HTML shows as logged in, or undefined. */
  shownUser(html: string): string | undefined;
  /** On the monolith's own login page (where `page` is): logs `user` in there. */
  legacyLogin(page: Page, user: DemoUser): Promise<void>;
  /** On a page of the monolith where `page` is: uses its logout control. */
  clickLogout(page: Page): Promise<void>;
  /**
   * Restarts php with its sessions in `store`; writes, in `dir`, the shipped mapping with that
   * store as its `session.store`, and returns it with the legacy-adapter's variables for it.
   */
  useStore(store: StoreKind, dir: string): Promise<{ mappingFile: string; adapterEnv: Record<string, string> }>;
  /** Whether the store in use holds the session `id`. */
  hasSession(id: string): Promise<boolean>;
  stop(): Promise<void>;
}

const REDIS_HOST_ENV = (url: URL) => ({ LEGACY_REDIS_HOST: url.hostname || '127.0.0.1', LEGACY_REDIS_PORT: url.port || '6379' });

/** The shipped mapping with its `session.store` replaced: the one file a store change is. */
function mappingWithStore(shipped: string, store: Record<string, unknown>, file: string): string {
  const mapping = parse(readFileSync(shipped, 'utf8')) as { session: Record<string, unknown> };
  mapping.session.store = store;
  writeFileSync(file, stringify(mapping));
  return file;
}

const textOf = (html: string, id: string) => new RegExp(`id="${id}">([^<]*)<`).exec(html)?.[1];

/** legacy-php/: users by login, the `php` serializer, PHPSESSID, api/me.php. */
export async function startLegacyPhpMonolith(): Promise<Monolith> {
  const php = await startLegacyPhp({ db: 'mysql', env: { LEGACY_TRUSTED_USER_HEADER: 'X-Remote-User', LEGACY_TRUSTED_PROXIES: '127.0.0.1' } });
  const db = legacyKnex(php);
  const redisUrl = new URL(php.redisUrl);
  const redis = new Redis({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379), lazyConnect: true });
  const shipped = join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml');
  let store: StoreKind = 'table';
  return {
    name: 'legacy-php',
    url: php.url,
    healthPath: '/api/health.php',
    dbUrl: php.db.url,
    sessionName: php.sessionName,
    routesFile: join(repoRoot, 'gateway/routes.yaml'),
    resourcesFile: join(repoRoot, 'idp/resources.yaml'),
    users: LEGACY_DEMO_USERS.filter((u) => u.active).map((u) => ({ login: u.login, password: LEGACY_DEMO_PASSWORD })),
    api: {
      path: '/api/me.php',
      audience: 'http://localhost:3000/api',
      readScope: 'api:read',
      otherScope: 'api:write',
      userOf: (json) => (json as { login: string }).login,
    },
    // Its login page takes no return parameter: the route's landing page.
    loginEntry: '/login.php',
    loginLanding: '/account.php',
    shownUser: (html) => textOf(html, 'account-login'),
    async legacyLogin(page, user) {
      await page.fill('#login', user.login);
      await page.fill('#password', user.password);
      await Promise.all([page.waitForURL(/\/account\.php$/), page.click('#login-form input[type=submit]')]);
    },
    // The menu's "Log out" is a form posting to logout.php.
    clickLogout: (page) => page.click('form[action="logout.php"] input[type=submit]'),
    async useStore(next, dir) {
      store = next;
      const phpStore = { table: 'db', phpredis: 'redis', files: 'files' }[next];
      await php.restart({ LEGACY_SESSION_STORE: phpStore });
      const section = {
        table: { type: 'table', table: 'sessions', columns: { id: 'id', data: 'data', timestamp: 'last_access' }, timestamp: 'unix' },
        phpredis: { type: 'phpredis', prefix: 'PHPREDIS_SESSION:' },
        files: { type: 'files', save_path: php.sessionSavePath },
      }[next];
      return { mappingFile: mappingWithStore(shipped, section, join(dir, `legacy-php-${next}.yaml`)), adapterEnv: REDIS_HOST_ENV(redisUrl) };
    },
    async hasSession(id) {
      if (store === 'table') return (await db('sessions').where({ id }).first()) !== undefined;
      if (store === 'phpredis') return (await redis.exists(`PHPREDIS_SESSION:${id}`)) === 1;
      return existsSync(join(php.sessionSavePath, `sess_${id}`));
    },
    async stop() {
      redis.disconnect();
      await db.destroy();
      await php.stop();
    },
  };
}

/** legacy-php-2/: members by handle, php_serialize, MEMBERSID, a login page with ?redirect=, api/orders.php. */
export async function startLegacyPhp2Monolith(): Promise<Monolith> {
  const site = await startLegacyPhp2({ db: 'mysql', trustedProxies: ['127.0.0.1'] });
  const db = legacyKnex(site);
  let store: StoreKind = 'phpredis';
  return {
    name: 'legacy-php-2',
    url: site.url,
    healthPath: '/api/ping.php',
    dbUrl: site.db.url,
    sessionName: site.sessionName,
    routesFile: join(repoRoot, 'gateway/routes-legacy-php-2.yaml'),
    resourcesFile: join(repoRoot, 'idp/resources-legacy-php-2.yaml'),
    users: MEMBERS_DEMO.filter((m) => !m.banned).map((m) => ({ login: m.handle, password: m.password })),
    api: {
      path: '/api/orders.php',
      audience: 'http://localhost:3000/members-api',
      readScope: 'orders:read',
      otherScope: 'orders:write',
      userOf: (json) => (json as { member: { handle: string } }).member.handle,
    },
    // Its own return parameter: the member comes back to the page asked for.
    loginEntry: '/login.php?redirect=%2Fapi%2Forders.php',
    loginLanding: '/api/orders.php',
    shownUser: (html) => textOf(html, 'member-handle'),
    async legacyLogin(page, user) {
      await page.fill('input[name=handle]', user.login);
      await page.fill('input[name=pass]', user.password);
      await Promise.all([page.waitForURL(/\/account\.php$/), page.click('input[name=go]')]);
    },
    // Its top bar's "log out" is a plain link.
    clickLogout: (page) => page.click('a[href="/logout.php"]'),
    async useStore(next, dir) {
      store = next;
      const handler = { table: 'db', phpredis: 'redis', files: 'files' }[next];
      await site.restart({ MEMBERS_SESSION_HANDLER: handler });
      const section = {
        table: { type: 'table', table: 'member_sessions', columns: { id: 'sess_id', data: 'sess_data', timestamp: 'sess_touched' }, timestamp: 'datetime' },
        phpredis: { type: 'phpredis', prefix: site.sessionPrefix },
        files: { type: 'files', save_path: site.sessionSavePath },
      }[next];
      return {
        mappingFile: mappingWithStore(LEGACY_PHP_2_MAPPING, section, join(dir, `legacy-php-2-${next}.yaml`)),
        adapterEnv: { LEGACY_REDIS_HOST: site.env.MEMBERS_REDIS_HOST!, LEGACY_REDIS_PORT: site.env.MEMBERS_REDIS_PORT! },
      };
    },
    async hasSession(id) {
      if (store === 'table') return (await db('member_sessions').where({ sess_id: id }).first()) !== undefined;
      if (store === 'phpredis') return (await site.redis.exists(id)) === 1;
      return existsSync(join(site.sessionSavePath, `sess_${id}`));
    },
    async stop() {
      await db.destroy();
      await site.stop();
    },
  };
}
