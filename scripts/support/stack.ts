// The session bridge's real processes, started the one way every test here needs them: the sample
// PHP monolith, the legacy-adapter over its database and session store, the idp with the gateway as
// its only client, and the gateway in front of both. Also the few browser steps the flows share.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { hashClientSecret } from '../../idp/oidc/client-secrets.ts';
import { createDatabase } from '../../lib/db.ts';
import { FormClient, hiddenValue } from './form-client.ts';
import { LEGACY_DEMO_PASSWORD, startLegacyPhp, type LegacyPhp, type LegacySessionStore } from './legacy-php.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET, startAdapterProcess } from './legacy-adapter.ts';
import { freePort, spawnScript, startServiceProcess, waitForHttp, type SpawnedService } from './processes.ts';

export const IDP_SECRET = 'test-idp-internal-secret-0123456789abcdef';
export const CLIENT_SECRET = 'test-gateway-oidc-client-secret-0123456789abcdef';
export const CLIENT_SECRET_KEY = 'test-client-secret-hmac-key-0123456789';
export const COOKIE_SECRET = 'test-gateway-auth-cookie-secret-0123456789abc';

export interface StackOptions {
  db: 'sqlite' | 'mysql';
  sessionStore: LegacySessionStore;
  /** The monolith's session cookie name, also given to the gateway (default PHPSESSID). */
  sessionName?: string;
  /** Prefix of the temporary folder for the clients file and the sqlite databases. */
  tmpPrefix?: string;
  /** Extra environment of each process on top of what the stack needs (LOG_LEVEL, timeouts). */
  env?: { adapter?: Record<string, string>; idp?: Record<string, string>; gateway?: Record<string, string> };
  /** Open a handle on the idp's own database, closed by stop(). */
  idpDb?: boolean;
  /** Back-channel logout URIs of the clients (default: the gateway's own /auth/backchannel-logout, none for offline-app). */
  backchannel?: BackchannelUris;
}

export interface BackchannelUris {
  gateway?: string;
  offline?: string;
}

export interface Stack {
  dir: string;
  /** The idp's environment but DATABASE_URL, to start a second idp like it. */
  idpEnv: Record<string, string>;
  php: LegacyPhp;
  gateway: string;
  adapter: SpawnedService;
  idp: SpawnedService;
  /** What the gateway, the adapter and the idp have written so far. */
  outputs(): string;
  stop(): Promise<void>;
}

const backchannelLines = (uri: string | undefined) => (uri ? `\n    backchannel_logout_uri: "${uri}"\n    backchannel_logout_session_required: true` : '');

/** What else the clients file holds. */
export interface ClientsOptions {
  /** The gateway's client as the shipped clients file has it: no consent page (first_party). */
  firstParty?: boolean;
  /** API_CLIENT too: a third-party web app that gets user access tokens for these scopes. */
  apiScopes?: string[];
}

/** The third-party app of clientsYaml's `apiScopes`: authorization code for user access tokens to an API. */
export const API_CLIENT = { id: 'api-app', scope: 'openid' };

/**
 * The idp's clients file: the gateway as a confidential web client whose public origin is
 * `gateway`, told of every idp session's end at its /auth/backchannel-logout, as in production.
 */
export function clientsYaml(gateway: string, backchannel: BackchannelUris = {}, options: ClientsOptions = {}): string {
  const apiApp = options.apiScopes
    ? `
  - client_id: ${API_CLIENT.id}
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(CLIENT_SECRET, CLIENT_SECRET_KEY)}"
    redirect_uris: ["${gateway}/auth/callback"]
    response_types: [code]
    grant_types: [authorization_code]
    scope: openid ${options.apiScopes.join(' ')}`
    : '';
  return `clients:
  - client_id: gateway${options.firstParty ? '\n    first_party: true' : ''}
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(CLIENT_SECRET, CLIENT_SECRET_KEY)}"
    redirect_uris: ["${gateway}/auth/callback"]
    post_logout_redirect_uris: ["${gateway}/"]
    response_types: [code]
    grant_types: [authorization_code]
    scope: openid${backchannelLines(backchannel.gateway ?? `${gateway}/auth/backchannel-logout`)}
  - client_id: offline-app
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(CLIENT_SECRET, CLIENT_SECRET_KEY)}"
    redirect_uris: ["${gateway}/auth/callback"]
    post_logout_redirect_uris: ["${gateway}/"]
    response_types: [code]
    grant_types: [authorization_code, refresh_token]
    scope: openid offline_access${backchannelLines(backchannel.offline)}${apiApp}
`;
}

export interface FrontOptions {
  /** Holds the clients file and the idp's and the gateway's SQLite databases. */
  dir: string;
  /** The monolith as the gateway reaches it, and the page that says it is up. */
  legacyUrl: string;
  legacyHealthPath: string;
  adapterUrl: string;
  backchannel?: BackchannelUris;
  clients?: ClientsOptions;
  env?: { idp?: Record<string, string>; gateway?: Record<string, string> };
}

export interface Front {
  gateway: string;
  idp: SpawnedService;
  /** The idp's environment but DATABASE_URL, to start a second idp like it. */
  idpEnv: Record<string, string>;
  idpFile: string;
  outputs(): string;
  stop(): Promise<void>;
}

/**
 * The idp (the gateway its client) and the gateway in front of a monolith and its legacy-adapter,
 * whichever monolith: the part of the stack that knows nothing of it but its URL.
 */
export async function startFront(options: FrontOptions): Promise<Front> {
  const port = await freePort();
  const gateway = `http://127.0.0.1:${port}`;
  const clients = join(options.dir, 'clients.yaml');
  writeFileSync(clients, clientsYaml(gateway, options.backchannel, options.clients));
  const idpFile = join(options.dir, 'idp.sqlite');
  const idpEnv = {
    IDP_ISSUER: gateway,
    IDP_CLIENTS_FILE: clients,
    IDP_CLIENT_SECRET_KEY: CLIENT_SECRET_KEY,
    IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS: 'true',
    LEGACY_ADAPTER_URL: options.adapterUrl,
    LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
    IDP_INTERNAL_SECRET: IDP_SECRET,
    PBKDF2_ITERATIONS: '1000',
    ...options.env?.idp,
  };
  const idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', { ...idpEnv, DATABASE_URL: `sqlite:${idpFile}` });
  const proc = spawnScript('gateway/main.ts', {
    GATEWAY_PORT: String(port),
    GATEWAY_OPS_PORT: '0',
    LEGACY_UPSTREAM_URL: options.legacyUrl,
    LEGACY_HEALTH_PATH: options.legacyHealthPath,
    IDP_UPSTREAM_URL: idp.url,
    IDP_ISSUER: gateway,
    IDP_INTERNAL_SECRET: IDP_SECRET,
    DATABASE_URL: `sqlite:${join(options.dir, 'gateway.sqlite')}`,
    GATEWAY_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    GATEWAY_AUTH_COOKIE_SECRET: COOKIE_SECRET,
    LEGACY_ADAPTER_URL: options.adapterUrl,
    LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
    ...options.env?.gateway,
  });
  try {
    await waitForHttp(`${gateway}/healthz`, proc.exited);
  } catch (error) {
    proc.child.kill('SIGKILL');
    await idp.stop();
    throw new Error(`${(error as Error).message}\n${proc.output()}`, { cause: error });
  }
  return {
    gateway,
    idp,
    idpEnv,
    idpFile,
    outputs: () => proc.output() + idp.output(),
    async stop() {
      if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
      await Promise.all([proc.exited, idp.stop()]);
    },
  };
}

export async function startStack(options: StackOptions & { idpDb: true }): Promise<Stack & { idpDb: Knex }>;
export async function startStack(options: StackOptions): Promise<Stack>;
export async function startStack(options: StackOptions): Promise<Stack & { idpDb?: Knex }> {
  const dir = mkdtempSync(join(tmpdir(), options.tmpPrefix ?? 'session-bridge-'));
  const php = await startLegacyPhp({
    db: options.db,
    sessionStore: options.sessionStore,
    ...(options.sessionName ? { sessionName: options.sessionName } : {}),
  });
  const adapter = await startAdapterProcess(php, options.env?.adapter);
  const front = await startFront({
    dir,
    legacyUrl: php.url,
    legacyHealthPath: '/api/health.php',
    adapterUrl: adapter.url,
    ...(options.backchannel ? { backchannel: options.backchannel } : {}),
    env: { ...(options.env?.idp ? { idp: options.env.idp } : {}), gateway: { LEGACY_SESSION_NAME: php.sessionName, ...options.env?.gateway } },
  });
  const idpDb = options.idpDb ? createDatabase(`sqlite:${front.idpFile}`) : undefined;
  return {
    dir,
    idpEnv: front.idpEnv,
    php,
    gateway: front.gateway,
    adapter,
    idp: front.idp,
    ...(idpDb ? { idpDb } : {}),
    outputs: () => front.outputs() + adapter.output(),
    async stop() {
      await idpDb?.destroy();
      await Promise.all([front.stop(), adapter.stop()]);
      await php.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POSTs `body` as JSON with `secret` as the bearer (none when undefined). */
export function postJson(url: string, secret: string | undefined, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
    body: JSON.stringify(body),
  });
}

/** Allows the consent page of interaction `uid` whose HTML is `body`. */
export function allowConsent(browser: FormClient, uid: string, body: string): Promise<Response> {
  return browser.request(`/interaction/${uid}/confirm`, { form: { csrf: hiddenValue(body, 'csrf'), decision: 'allow' } });
}

/** Submits the idp's password page of interaction `uid` (HTML `body`) with `login` and `password` (the demo password by default). */
export function submitPassword(browser: FormClient, uid: string, body: string, login: string, password = LEGACY_DEMO_PASSWORD): Promise<Response> {
  return browser.request(`/interaction/${uid}/login`, { form: { csrf: hiddenValue(body, 'csrf'), identifier: login, password } });
}
