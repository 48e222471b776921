// A real idp (startIdp, in-process) on a throwaway database (MariaDB or SQLite) and Redis (or
// the in-process store), with clients and resources files written for the test. Interactions are
// completed through a tiny test-only route that calls the real login service and
// provider.interactionFinished, so these tests do not depend on the HTML of the login pages
// (test/idp-pages and test/idp-browser cover those).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import express, { type Express } from 'express';
import type Provider from 'oidc-provider';
import { startIdp, type IdpHooks } from '../../idp/app.ts';
import { loadIdpConfig } from '../../idp/config.ts';
import type { Oidc } from '../../idp/oidc/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import { hashClientSecret } from '../../idp/oidc/client-secrets.ts';
import type { RunningService } from '../../lib/service.ts';
import { closePasswordWorkers } from '../../lib/passwords/index.ts';
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
import { freePort } from '../../scripts/support/processes.ts';

export const SECRET_KEY = 'test-client-secret-hmac-key-0123456789';
export const CONFIDENTIAL_SECRET = 'confidential-client-secret-generated-0123456789abcdef';
export const SERVICE_SECRET = 'service-client-secret-generated-0123456789abcdefghij';
export const API_SECRET = 'orders-api-introspection-secret-0123456789abcdefgh';
export const REGISTRATION_TOKEN = 'test-registration-initial-access-token-0123456789';
export const API_AUDIENCE = 'https://orders.example.test/api';
export const CONFIDENTIAL_REDIRECT = 'https://app.example.test/callback';
export const NATIVE_REDIRECT = 'http://127.0.0.1/callback';
export const PASSWORD = 'correct horse battery staple';
/** A phpass hash of PASSWORD, as the sample legacy PHP site wrote them (test/fixtures). */
export const LEGACY_PHPASS = '$P$BnKIIqConek1Kc2flv6caY7hm6Ud/J0';

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
}

/**
 * The test-only interaction route: POST /interaction/:uid/test-login {username, password}
 * signs in through the real login service; POST /interaction/:uid/test-consent grants exactly
 * what the prompt says is missing (what the consent page shows).
 */
export function testInteractions(login: (u: string, p: string) => Promise<{ ok: true; user: { id: string } } | { ok: false }>) {
  return (app: Express, provider: Provider) => {
    app.get('/interaction/:uid/test-prompt', async (req, res, next) => {
      try {
        const details = await provider.interactionDetails(req, res);
        res.json({ name: details.prompt.name, details: details.prompt.details });
      } catch (error) {
        next(error);
      }
    });
    app.post('/interaction/:uid/test-login', express.json(), async (req, res, next) => {
      try {
        await provider.interactionDetails(req, res);
        const body = req.body as { username?: string; password?: string };
        const outcome = await login(String(body.username), String(body.password));
        if (!outcome.ok) {
          res.status(401).json({ error: 'login failed' });
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: outcome.user.id } }, { mergeWithLastSubmission: false });
      } catch (error) {
        next(error);
      }
    });
    app.post('/interaction/:uid/test-consent', async (req, res, next) => {
      try {
        const details = await provider.interactionDetails(req, res);
        const accountId = details.session?.accountId;
        const clientId = String(details.params.client_id);
        if (!accountId) throw new Error('consent before login');
        const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
        if (!grant) throw new Error('grant vanished');
        const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      } catch (error) {
        next(error);
      }
    });
  };
}

export async function startTestIdp(options: StartOptions): Promise<TestIdp> {
  const dir = mkdtempSync(join(tmpdir(), 'idp-oidc-test-'));
  const primary = options.replicaOf;
  const db = primary ? primary.db : options.storage.db === 'mysql' ? await createMariaDbDatabase('idm_oidc') : await createSqliteDatabase();
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
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    IDP_PORT: String(port),
    IDP_OPS_PORT: '0',
    IDP_ISSUER: issuer,
    DATABASE_URL: db.url,
    ...(redis ? { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redis.prefix } : {}),
    IDP_CLIENTS_FILE: join(dir, 'clients.yaml'),
    IDP_RESOURCES_FILE: join(dir, 'resources.yaml'),
    IDP_CLIENT_SECRET_KEY: SECRET_KEY,
    IDP_REGISTRATION_ACCESS_TOKEN: REGISTRATION_TOKEN,
    TEST_SERVICE_CLIENT_SECRET: SERVICE_SECRET,
    PBKDF2_ITERATIONS: '20000',
    LEGACY_ADAPTER_URL: 'http://127.0.0.1:9',
    LEGACY_ADAPTER_TIMEOUT_MS: '500',
    ...options.env,
  };
  const config = loadIdpConfig(env);
  // startIdp reads TEST_SERVICE_CLIENT_SECRET from process.env (client_secret_env).
  process.env.TEST_SERVICE_CLIENT_SECRET = SERVICE_SECRET;
  let oidc: Oidc | undefined;
  const hooks: IdpHooks = { onOidc: (o) => (oidc = o), ...(options.onApp ? { onApp: options.onApp } : {}) };
  if (!options.realPages) hooks.mountInteractions = (app, provider, { login }) => testInteractions((u, p) => login.login(u, p))(app, provider);
  const service = await startIdp(config, hooks);
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
      await new Promise((resolve) => rpServer.close(resolve));
      if (!primary) {
        await db.drop();
        await redis?.cleanup();
      }
      rmSync(dir, { recursive: true, force: true });
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
export async function withIdp(t: TestContext, storage: Storage, body: (idp: TestIdp) => Promise<void>, options: Omit<StartOptions, 'storage'> = {}): Promise<void> {
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
