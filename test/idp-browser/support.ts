// What the browser tests need around Chromium: Debian's chromium (never a downloaded one), a
// throwaway TLS certificate for a non-localhost https origin on loopback, the single-page
// app's static server, and the real idp process on a throwaway database.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { stringify } from 'yaml';
import { createDatabase, migrate } from '../../lib/db.ts';
import { identifyScheme } from '../../lib/passwords/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import type { UserDirectory } from '../../idp/login/types.ts';
import { createUserStore } from '../../idp/users/store.ts';
import { createMariaDbDatabase, mariadbProblem, skipLoudly } from '../../scripts/support/databases.ts';
import { freePort, repoRoot, spawnScript, waitForHttp } from '../../scripts/support/processes.ts';

export const CHROMIUM_PATH = process.env.TEST_CHROMIUM ?? '/usr/bin/chromium';
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Debian's chromium, or a loud skip when it is not installed. */
export async function launchChromium(t: TestContext, extraArgs: string[] = []): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    skipLoudly(t, `chromium at ${CHROMIUM_PATH}`, 'not installed (apt-get install chromium)');
    return undefined;
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...BASE_ARGS, ...extraArgs] });
}

export const ARTIFACTS = join(repoRoot, 'test-artifacts', 'idp-browser');
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** A self-signed certificate for `name`, valid one day, made with openssl at test time. */
export function selfSignedCertificate(dir: string, name: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-days', '1'],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

export interface SpaServer {
  port: number;
  origin: string;
  /** Set once the idp is up: served to the app as /config.json. */
  config: { issuer?: string; clientId?: string; redirectUri?: string; scope?: string };
  close(): Promise<void>;
}

const SPA_FILES: Record<string, string> = {
  '/': join(repoRoot, 'test/idp-browser/spa/index.html'),
  '/index.html': join(repoRoot, 'test/idp-browser/spa/index.html'),
  '/callback.html': join(repoRoot, 'test/idp-browser/spa/callback.html'),
  '/app.js': join(repoRoot, 'test/idp-browser/spa/app.js'),
  // The library is the app's own file, served as is: no bundler, no inline script.
  '/oidc-client-ts.min.js': join(repoRoot, 'node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js'),
};
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** The single-page app over https on loopback, reached by Chromium as https://<host>:<port>. */
export async function startSpaServer(host: string, tls: { key: Buffer; cert: Buffer }): Promise<SpaServer> {
  const config: SpaServer['config'] = {};
  const server = createHttpsServer(tls, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(config));
      return;
    }
    const file = SPA_FILES[path];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      // The SPA holds itself to a script-free-inline CSP too: its own scripts, the idp for fetches.
      'content-security-policy': `default-src 'self'; script-src 'self'; connect-src 'self' ${config.issuer ?? ''}; base-uri 'none'; frame-ancestors 'none'`,
    });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `https://${host}:${port}`,
    config,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SeededUser {
  username: string;
  password: string;
  legacyHash: string;
}

/** A legacy user as the batch ETL leaves them: a phpass hash real PHP produced, not yet upgraded. */
function legacyUser(): SeededUser {
  const fixtures = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/legacy-hashes.json'), 'utf8')) as { scheme: string; password: string; hash: string }[];
  const vector = fixtures.find((v) => v.scheme === 'phpass-portable-P');
  if (!vector) throw new Error('no phpass vector in the fixtures');
  return { username: 'alice', password: vector.password, legacyHash: vector.hash };
}

export interface RealIdp {
  /** How the idp runs: its own process (idp/main.ts), or startIdp in this process with the pages mounted through its hook. */
  mode: 'process' | 'in-process' | 'harness';
  issuer: string;
  databaseUrl: string;
  user: SeededUser;
  output(): string;
  /** The stored password scheme of the seeded user (to see the just-in-time upgrade). */
  storedScheme(): Promise<string | null>;
  close(): Promise<void>;
}

/**
 * idp/main.ts in its own process, as production runs it: a throwaway SQLite database holding
 * one legacy user, and a clients file written for this test.
 */
/**
 * The idp's database with one legacy user: a throwaway MariaDB database when MariaDB answers
 * (as in production), else a SQLite file in `dir`.
 */
async function seedDatabase(dir: string): Promise<{ databaseUrl: string; user: SeededUser; drop(): Promise<void> }> {
  const mariadb = (await mariadbProblem()) === undefined ? await createMariaDbDatabase('idm_browser') : undefined;
  const databaseUrl = mariadb?.url ?? `sqlite:${join(dir, 'idp.sqlite')}`;
  const user = legacyUser();
  const knex = mariadb?.knex ?? createDatabase(databaseUrl);
  try {
    await migrate(knex, idpMigrations);
    await createUserStore(knex).insertFromLegacy({
      legacyId: 'legacy-42',
      username: user.username,
      email: 'alice@example.test',
      name: 'Alice Example',
      passwordHash: user.legacyHash,
      passwordScheme: identifyScheme(user.legacyHash) ?? 'unknown',
      legacyFingerprint: null,
    });
  } finally {
    if (!mariadb) await knex.destroy();
  }
  return { databaseUrl, user, drop: async () => (mariadb ? mariadb.drop() : undefined) };
}

function storedSchemeReader(databaseUrl: string, username: string) {
  return async () => {
    const db = createDatabase(databaseUrl);
    try {
      const row = (await db('users').where({ username }).first('password_scheme')) as { password_scheme: string | null } | undefined;
      return row?.password_scheme ?? null;
    } finally {
      await db.destroy();
    }
  };
}

async function servesPages(issuer: string): Promise<boolean> {
  const res = await fetch(`${issuer}/interaction/static/idp.css`);
  await res.body?.cancel();
  return res.status === 200;
}

/**
 * The real idp on a throwaway SQLite database holding one legacy user, with a clients file
 * written for this test: idp/main.ts in its own process, as production runs it. When that
 * process does not serve the login pages (idp/app.ts does not mount them by default yet), the
 * same startIdp runs in this process with the pages mounted through its mountInteractions
 * hook, on the real just-in-time login service it hands over.
 */
export async function startRealIdp(clients: Record<string, unknown>[], env: Record<string, string> = {}): Promise<RealIdp> {
  const dir = mkdtempSync(join(tmpdir(), 'idm-browser-'));
  const { databaseUrl, user, drop } = await seedDatabase(dir);
  const clientsFile = join(dir, 'clients.yaml');
  writeFileSync(clientsFile, stringify({ clients }));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const idpEnv: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    IDP_PORT: String(port),
    IDP_OPS_PORT: '0',
    IDP_ISSUER: issuer,
    DATABASE_URL: databaseUrl,
    IDP_CLIENTS_FILE: clientsFile,
    // Never asked: the user is already in the idp's store.
    LEGACY_ADAPTER_URL: 'http://127.0.0.1:9',
    ...env,
  };
  const proc = spawnScript('idp/main.ts', idpEnv);
  const stopProcess = async () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
    await proc.exited;
  };
  try {
    await waitForHttp(`${issuer}/healthz`, proc.exited, 30_000);
  } catch (error) {
    await stopProcess();
    await drop();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${proc.output()}`, { cause: error });
  }
  const common = { issuer, databaseUrl, user, storedScheme: storedSchemeReader(databaseUrl, user.username) };
  if (await servesPages(issuer)) {
    return {
      ...common,
      mode: 'process',
      output: proc.output,
      async close() {
        await stopProcess();
        await drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  await stopProcess();

  const { startIdp } = await import('../../idp/app.ts');
  const { loadIdpConfig } = await import('../../idp/config.ts');
  const { mountInteractions } = await import('../../idp/interactions/index.ts');
  const { createMemoryThrottle, throttlePolicyFromConfig } = await import('../../idp/throttle/index.ts');
  const { pino } = await import('pino');
  const config = loadIdpConfig({ PATH: process.env.PATH, ...idpEnv });
  const service = await startIdp(config, {
    mountInteractions(app, provider, deps) {
      mountInteractions(app, provider, {
        login: deps.login,
        users: deps.login as typeof deps.login & UserDirectory,
        throttle: createMemoryThrottle(throttlePolicyFromConfig(config)),
        logger: pino({ level: 'warn' }),
        csrfSecret: config.IDP_INTERACTION_SECRET,
        forgotPasswordUrl: config.IDP_FORGOT_PASSWORD_URL,
      });
    },
  });
  return {
    ...common,
    mode: 'in-process',
    output: () => '',
    async close() {
      await service.stop();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The same interaction module on an oidc-provider built in the test (test/idp-pages/harness.ts)
 * with an in-memory user list instead of the just-in-time login: for when the real idp cannot
 * run the pages. Selected with TEST_IDP_BROWSER_TARGET=harness; the test says which it used.
 */
export async function startHarnessIdp(clients: Record<string, unknown>[]): Promise<RealIdp> {
  const { startPageHarness } = await import('../idp-pages/harness.ts');
  const { createMemoryThrottle, DEFAULT_THROTTLE_POLICY } = await import('../../idp/throttle/index.ts');
  const harness = await startPageHarness({
    throttle: createMemoryThrottle(DEFAULT_THROTTLE_POLICY),
    clients: clients as never,
    extraConfiguration: { responseTypes: ['code', 'id_token token'] },
  });
  const user = legacyUser();
  harness.users.add(user.username, user.password, 'Alice Example');
  return {
    mode: 'harness',
    issuer: harness.issuer,
    databaseUrl: '',
    user,
    output: () => '',
    storedScheme: async () => null,
    close: () => harness.close(),
  };
}
