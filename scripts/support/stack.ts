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
import { LEGACY_DEMO_PASSWORD, startLegacyPhp, type LegacyPhp } from './legacy-php.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET, startAdapterProcess } from './legacy-adapter.ts';
import { freePort, spawnScript, startServiceProcess, waitForHttp, type SpawnedService } from './processes.ts';

export const IDP_SECRET = 'test-idp-internal-secret-0123456789abcdef';
export const CLIENT_SECRET = 'test-gateway-oidc-client-secret-0123456789abcdef';
export const CLIENT_SECRET_KEY = 'test-client-secret-hmac-key-0123456789';
export const COOKIE_SECRET = 'test-gateway-auth-cookie-secret-0123456789abc';

export interface StackOptions {
  db: 'sqlite' | 'mysql';
  sessionStore: 'db' | 'redis';
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

/**
 * The idp's clients file: the gateway as a confidential web client whose public origin is
 * `gateway`, told of every idp session's end at its /auth/backchannel-logout, as in production.
 */
export function clientsYaml(gateway: string, backchannel: BackchannelUris = {}): string {
  return `clients:
  - client_id: gateway
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
    scope: openid offline_access${backchannelLines(backchannel.offline)}
`;
}

export async function startStack(options: StackOptions & { idpDb: true }): Promise<Stack & { idpDb: Knex }>;
export async function startStack(options: StackOptions): Promise<Stack>;
export async function startStack(options: StackOptions): Promise<Stack & { idpDb?: Knex }> {
  const dir = mkdtempSync(join(tmpdir(), options.tmpPrefix ?? 'session-bridge-'));
  const php = await startLegacyPhp({ db: options.db, sessionStore: options.sessionStore, ...(options.sessionName ? { sessionName: options.sessionName } : {}) });
  const adapter = await startAdapterProcess(php, options.env?.adapter);
  const port = await freePort();
  const gateway = `http://127.0.0.1:${port}`;
  const clients = join(dir, 'clients.yaml');
  writeFileSync(clients, clientsYaml(gateway, options.backchannel));
  const idpFile = join(dir, 'idp.sqlite');
  const idpEnv = {
    IDP_ISSUER: gateway,
    IDP_CLIENTS_FILE: clients,
    IDP_CLIENT_SECRET_KEY: CLIENT_SECRET_KEY,
    IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS: 'true',
    LEGACY_ADAPTER_URL: adapter.url,
    LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
    IDP_INTERNAL_SECRET: IDP_SECRET,
    PBKDF2_ITERATIONS: '1000',
    ...options.env?.idp,
  };
  const idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', { ...idpEnv, DATABASE_URL: `sqlite:${idpFile}` });
  const proc = spawnScript('gateway/main.ts', {
    GATEWAY_PORT: String(port),
    GATEWAY_OPS_PORT: '0',
    LEGACY_UPSTREAM_URL: php.url,
    LEGACY_HEALTH_PATH: '/api/health.php',
    IDP_UPSTREAM_URL: idp.url,
    IDP_ISSUER: gateway,
    IDP_INTERNAL_SECRET: IDP_SECRET,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
    GATEWAY_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    GATEWAY_AUTH_COOKIE_SECRET: COOKIE_SECRET,
    LEGACY_ADAPTER_URL: adapter.url,
    LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
    LEGACY_SESSION_NAME: php.sessionName,
    ...options.env?.gateway,
  });
  try {
    await waitForHttp(`${gateway}/healthz`, proc.exited);
  } catch (error) {
    proc.child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${proc.output()}`, { cause: error });
  }
  const idpDb = options.idpDb ? createDatabase(`sqlite:${idpFile}`) : undefined;
  return {
    dir,
    idpEnv,
    php,
    gateway,
    adapter,
    idp,
    ...(idpDb ? { idpDb } : {}),
    outputs: () => proc.output() + adapter.output() + idp.output(),
    async stop() {
      await idpDb?.destroy();
      if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
      await Promise.all([proc.exited, idp.stop(), adapter.stop()]);
      await php.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POSTs `body` as JSON with `secret` as the bearer (none when undefined). */
export function postJson(url: string, secret: string | undefined, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) }, body: JSON.stringify(body) });
}

/** Allows the consent page of interaction `uid` whose HTML is `body`. */
export function allowConsent(browser: FormClient, uid: string, body: string): Promise<Response> {
  return browser.request(`/interaction/${uid}/confirm`, { form: { csrf: hiddenValue(body, 'csrf'), decision: 'allow' } });
}

/** Submits the idp's password page of interaction `uid` (HTML `body`) with `login` and the demo password. */
export function submitPassword(browser: FormClient, uid: string, body: string, login: string): Promise<Response> {
  return browser.request(`/interaction/${uid}/login`, { form: { csrf: hiddenValue(body, 'csrf'), identifier: login, password: LEGACY_DEMO_PASSWORD } });
}
