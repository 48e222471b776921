// The idp as the tests start it, three ways:
// - startTestIdp: the real idp (startIdp, in this process) on a throwaway database (MariaDB or
//   SQLite) and Redis (or the in-process store), with clients and resources files written for the
//   test. By default interactions are completed through a tiny test-only route that calls the
//   real login service and provider.interactionFinished, so most tests do not depend on the HTML
//   of the login pages; `realPages` mounts the idp's own pages.
// - startIdpProcess: idp/main.ts in its own process, as production runs it (the browser tests).
// - startPageHarness: the idp's interaction module alone, on an oidc-provider built here over an
//   in-memory user list, for the page tests that count password checks.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import express, { type Express } from 'express';
import type Provider from 'oidc-provider';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { startIdp, type IdpHooks } from '../../idp/app.ts';
import { loadIdpConfig } from '../../idp/config.ts';
import type { Oidc } from '../../idp/oidc/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import { mountInteractions, logoutSource, postLogoutSuccessSource, renderError, type InteractionProvider } from '../../idp/interactions/index.ts';
import type { IdpUser, LoginOptions, LoginOutcome, LoginService, UserDirectory } from '../../idp/login/types.ts';
import { createOidcAdapter } from '../../idp/oidc/adapters/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import type { LoginThrottle } from '../../idp/throttle/index.ts';
import { createDatabase, migrate } from '../../lib/db.ts';
import { hashClientSecret } from '../../idp/oidc/client-secrets.ts';
import type { RunningService } from '../../lib/service.ts';
import { closePasswordWorkers, identifyScheme } from '../../lib/passwords/index.ts';
import {
  createMariaDbDatabase,
  createSqliteDatabase,
  createTestRedis,
  MARIADB_ADMIN_URL,
  mariadbProblem,
  REDIS_TEST_URL,
  redisProblem,
  skipLoudly,
  type TestDatabase,
} from '../../scripts/support/databases.ts';
import { testInteractions } from '../../scripts/support/interactions.ts';
import { LEGACY_PHPASS } from '../../scripts/support/legacy-hashes.ts';
import { freePort, repoRoot, spawnScript, waitForHttp } from '../../scripts/support/processes.ts';

export const SECRET_KEY = 'test-client-secret-hmac-key-0123456789';
export const CONFIDENTIAL_SECRET = 'confidential-client-secret-generated-0123456789abcdef';
export const SERVICE_SECRET = 'service-client-secret-generated-0123456789abcdefghij';
export const API_SECRET = 'orders-api-introspection-secret-0123456789abcdefgh';
export const REGISTRATION_TOKEN = 'test-registration-initial-access-token-0123456789';
export const API_AUDIENCE = 'https://orders.example.test/api';
export const CONFIDENTIAL_REDIRECT = 'https://app.example.test/callback';
export const NATIVE_REDIRECT = 'http://127.0.0.1/callback';

export interface TestIdp {
  url: string;
  /** The ops listener (/metrics, /readyz). */
  opsUrl: string;
  redis: { prefix: string; cleanup(): Promise<void> } | undefined;
  /** The clients and resources files, and the environment the idp was configured with. */
  env: Record<string, string>;
  issuer: string;
  db: TestDatabase;
  oidc: Oidc;
  provider: Provider;
  service: RunningService;
  /** Backchannel logout tokens received by the test RP endpoint. */
  logoutTokens: string[];
  backchannelUrl: string;
  stop(): Promise<void>;
}

export type Storage = { db: 'mysql' | 'sqlite'; redis: boolean };

/** The services a storage needs, or why they are missing (the caller skips loudly). */
export async function storageProblem(storage: Storage): Promise<string | undefined> {
  if (storage.db === 'mysql') {
    const problem = await mariadbProblem();
    if (problem) return `MariaDB at ${MARIADB_ADMIN_URL}: ${problem}`;
  }
  if (storage.redis) {
    const problem = await redisProblem();
    if (problem) return `Redis at ${REDIS_TEST_URL}: ${problem}`;
  }
  return undefined;
}

export function clientsYaml(backchannelUrl: string): string {
  return `
clients:
  - client_id: native-app
    application_type: native
    token_endpoint_auth_method: none
    redirect_uris: ["${NATIVE_REDIRECT}"]
    post_logout_redirect_uris: ["http://127.0.0.1/signed-out"]
    grant_types: [authorization_code, refresh_token]
    scope: openid profile email offline_access orders:read
  - client_id: web-app
    client_name: Web app
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(CONFIDENTIAL_SECRET, SECRET_KEY)}"
    redirect_uris: ["${CONFIDENTIAL_REDIRECT}"]
    post_logout_redirect_uris: ["https://app.example.test/signed-out"]
    grant_types: [authorization_code, refresh_token]
    scope: openid profile email offline_access orders:read
    backchannel_logout_uri: "${backchannelUrl}"
  - client_id: spa
    token_endpoint_auth_method: none
    redirect_uris: ["https://spa.example.test/callback"]
    response_types: ["id_token token", "id_token"]
    grant_types: [implicit]
    scope: openid profile
  - client_id: service
    token_endpoint_auth_method: client_secret_post
    client_secret_env: TEST_SERVICE_CLIENT_SECRET
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read orders:write
  - client_id: orders-api
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(API_SECRET, SECRET_KEY)}"
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read
`;
}

export const RESOURCES_YAML = `
resources:
  - audience: ${API_AUDIENCE}
    name: Orders API
    scopes:
      orders:read: Read your orders
      orders:write: Place orders
    introspection_clients: [orders-api]
`;

interface StartOptions {
  storage: Storage;
  /** A second replica: the same database and Redis prefix as this idp (left for it to clean). */
  replicaOf?: TestIdp;
  env?: Record<string, string>;
  clients?: string;
  resources?: string;
  /** The idp's own login and consent pages instead of the test-only interaction routes. */
  realPages?: boolean;
  /** Called with the idp's express app once every route is mounted. */
  onApp?: IdpHooks['onApp'];
  /** A database the caller made (and drops): the idp runs on it instead of a fresh one of `storage.db`. */
  database?: TestDatabase;
}

export async function startTestIdp(options: StartOptions): Promise<TestIdp> {
  const dir = mkdtempSync(join(tmpdir(), 'idp-oidc-test-'));
  const primary = options.replicaOf;
  const db = primary
    ? primary.db
    : (options.database ?? (options.storage.db === 'mysql' ? await createMariaDbDatabase('idm_oidc') : await createSqliteDatabase()));
  const redis = primary ? primary.redis : options.storage.redis ? await createTestRedis() : undefined;
  const logoutTokens: string[] = [];
  // The RP's back-channel logout endpoint (a separate server, as a real RP would be).
  const rp = express();
  rp.post('/backchannel', express.urlencoded({ extended: false }), (req, res) => {
    logoutTokens.push(String((req.body as { logout_token?: string }).logout_token));
    res.status(200).end();
  });
  const rpServer = rp.listen(0, '127.0.0.1');
  await new Promise((resolve) => rpServer.once('listening', resolve));
  const backchannelUrl = `http://127.0.0.1:${(rpServer.address() as { port: number }).port}/backchannel`;

  writeFileSync(join(dir, 'clients.yaml'), options.clients ?? clientsYaml(backchannelUrl));
  writeFileSync(join(dir, 'resources.yaml'), options.resources ?? RESOURCES_YAML);
  // The issuer names the port, so it is chosen before the listen: another process may take it
  // in between (seen in CI), and then the start is tried again on another.
  const environment = (port: number): Record<string, string> => ({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    IDP_PORT: String(port),
    IDP_OPS_PORT: '0',
    IDP_ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: db.url,
    ...(redis ? { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redis.prefix } : {}),
    IDP_CLIENTS_FILE: join(dir, 'clients.yaml'),
    IDP_RESOURCES_FILE: join(dir, 'resources.yaml'),
    IDP_CLIENT_SECRET_KEY: SECRET_KEY,
    IDP_REGISTRATION_ACCESS_TOKEN: REGISTRATION_TOKEN,
    TEST_SERVICE_CLIENT_SECRET: SERVICE_SECRET,
    PBKDF2_ITERATIONS: '20000',
    LEGACY_ADAPTER_URL: 'http://127.0.0.1:9',
    // Without an adapter (port 9) a call fails at once whatever the timeout. With a real one, a
    // first login opens the adapter's database pool and hashing threads: on a loaded machine that
    // took over half a second, and a login "not decided" failed tests that were about something else.
    LEGACY_ADAPTER_TIMEOUT_MS: '5000',
    ...options.env,
  });
  // startIdp reads TEST_SERVICE_CLIENT_SECRET from process.env (client_secret_env).
  process.env.TEST_SERVICE_CLIENT_SECRET = SERVICE_SECRET;
  let oidc: Oidc | undefined;
  const hooks: IdpHooks = { onOidc: (o) => (oidc = o), ...(options.onApp ? { onApp: options.onApp } : {}) };
  if (!options.realPages) hooks.mountInteractions = (app, provider, { login }) => testInteractions((u, p) => login.login(u, p))(app, provider);
  const cleanup = async () => {
    await new Promise((resolve) => rpServer.close(resolve));
    if (!primary) {
      if (!options.database) await db.drop();
      await redis?.cleanup();
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let env: Record<string, string>;
  let service: RunningService;
  for (let attempt = 1; ; attempt++) {
    env = environment(await freePort());
    try {
      service = await startIdp(loadIdpConfig(env), hooks);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
      await cleanup();
      throw error;
    }
  }
  const issuer = env.IDP_ISSUER!;
  if (!oidc) throw new Error('startIdp did not expose the provider');
  const ready = oidc;
  return {
    url: service.url,
    opsUrl: service.opsUrl,
    redis,
    env,
    issuer,
    db,
    oidc: ready,
    provider: ready.provider,
    service,
    logoutTokens,
    backchannelUrl,
    async stop() {
      await service.stop();
      await cleanup();
    },
  };
}

/** Seeds a user as the batch ETL would: the legacy phpass hash copied as is. */
export async function seedLegacyUser(idp: TestIdp, username: string, legacyId = `legacy-${username}`): Promise<string> {
  const store = createUserStore(idp.db.knex);
  const { user } = await store.insertFromLegacy({
    legacyId,
    username,
    email: `${username}@example.test`,
    name: `${username[0]?.toUpperCase()}${username.slice(1)} Legacy`,
    passwordHash: LEGACY_PHPASS,
    passwordScheme: 'phpass-portable-P',
    legacyFingerprint: null,
  });
  return user.id;
}

export async function storedPasswordHash(idp: TestIdp, userId: string): Promise<string> {
  const row = (await idp.db.knex('users').where({ id: userId }).first('password_hash')) as { password_hash: string };
  return row.password_hash;
}

/** Runs `body` against a fresh idp on `storage`; skips loudly when a service is missing. */
export async function withIdp(
  t: TestContext,
  storage: Storage,
  body: (idp: TestIdp) => Promise<void>,
  options: Omit<StartOptions, 'storage'> = {},
): Promise<void> {
  const problem = await storageProblem(storage);
  if (problem) return skipLoudly(t, problem.split(':')[0] ?? 'a service', problem);
  const idp = await startTestIdp({ storage, ...options });
  try {
    await body(idp);
  } finally {
    await idp.stop();
  }
}

export async function closeSharedResources(): Promise<void> {
  await closePasswordWorkers();
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

export interface IdpProcess {
  issuer: string;
  databaseUrl: string;
  user: SeededUser;
  output(): string;
  /** The stored password scheme of the seeded user (to see the just-in-time upgrade). */
  storedScheme(): Promise<string | null>;
  close(): Promise<void>;
}

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

/**
 * idp/main.ts in its own process, as production runs it, on a throwaway database holding one
 * legacy user (startTestIdp runs the same startIdp in this process instead), with a clients
 * file written for this test.
 */
export async function startIdpProcess(clients: Record<string, unknown>[], env: Record<string, string> = {}): Promise<IdpProcess> {
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
  return {
    issuer,
    databaseUrl,
    user,
    storedScheme: storedSchemeReader(databaseUrl, user.username),
    output: proc.output,
    async close() {
      await stopProcess();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type ProviderConstructor = new (
  issuer: string,
  configuration: Record<string, unknown>,
) => InteractionProvider & {
  callback(): express.RequestHandler;
  proxy: boolean;
  on(event: string, listener: (...args: unknown[]) => void): void;
};
// oidc-provider ships no type declarations; a non-literal specifier keeps tsc from demanding them.
const oidcProviderModule: string = 'oidc-provider';
const { Provider: BareProvider } = (await import(oidcProviderModule)) as { Provider: ProviderConstructor };

export class InMemoryUsers implements LoginService, UserDirectory {
  readonly calls: string[] = [];
  readonly #accounts: { user: IdpUser; password: string }[] = [];

  add(username: string, password: string, name = username): IdpUser {
    const user: IdpUser = {
      id: `u-${randomBytes(4).toString('hex')}`,
      username,
      email: `${username}@example.test`,
      emailVerified: true,
      name,
      active: true,
      updatedAt: new Date(),
    };
    this.#accounts.push({ user, password });
    return user;
  }

  async login(identifier: string, password: string, options: LoginOptions = {}): Promise<LoginOutcome> {
    this.calls.push(identifier);
    const wanted = identifier.trim().toLowerCase();
    const found = this.#accounts.find((a) => a.user.username === wanted || a.user.email === wanted);
    const digest = (s: string) => createHash('sha256').update(s).digest();
    const matches = timingSafeEqual(digest(found?.password ?? randomBytes(16).toString('hex')), digest(password));
    // The account the identifier named, right password or wrong, as the real login service tells it.
    if (found) options.onAccount?.(`idp:${found.user.id}`);
    return found && matches && found.user.active ? { ok: true, user: found.user } : { ok: false };
  }

  async findById(id: string): Promise<IdpUser | undefined> {
    return this.#accounts.find((a) => a.user.id === id)?.user;
  }
}

export interface TestClient {
  client_id: string;
  client_name?: string;
  redirect_uris: string[];
  response_types?: string[];
  grant_types?: string[];
  token_endpoint_auth_method?: string;
  scope?: string;
  post_logout_redirect_uris?: string[];
  first_party?: boolean;
}

export const WEB_CLIENT: TestClient = {
  client_id: 'web-app',
  client_name: 'Example Web App',
  redirect_uris: ['https://app.example.test/callback'],
  post_logout_redirect_uris: ['https://app.example.test/bye'],
  token_endpoint_auth_method: 'none',
  scope: 'openid profile email offline_access',
};

export interface PageHarness {
  issuer: string;
  users: InMemoryUsers;
  registry: Registry;
  close(): Promise<void>;
}

export async function startPageHarness(options: {
  throttle: LoginThrottle;
  clients?: TestClient[];
  forgotPasswordUrl?: string;
  host?: string;
  extraConfiguration?: Record<string, unknown>;
  configureApp?: (app: express.Express) => void;
}): Promise<PageHarness> {
  const users = new InMemoryUsers();
  const registry = new Registry();
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  options.configureApp?.(app);
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new BareProvider(issuer, {
    adapter: createOidcAdapter(),
    clients: options.clients ?? [WEB_CLIENT],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
    findAccount: async (_ctx: unknown, sub: string) => {
      const user = await users.findById(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: async () => ({ sub, name: user.name, preferred_username: user.username, email: user.email, email_verified: user.emailVerified }),
      };
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    renderError,
    ...options.extraConfiguration,
  });
  provider.proxy = true;
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error:', error));

  mountInteractions(app, provider, {
    login: users,
    users,
    throttle: options.throttle,
    logger: pino({ level: 'silent' }),
    csrfSecret: randomBytes(32).toString('base64url'),
    metrics: { registry },
    forgotPasswordUrl: options.forgotPasswordUrl,
  });
  app.use(provider.callback());

  return {
    issuer,
    users,
    registry,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
