// The OpenID Connect provider, assembled from configuration: declared clients and resources,
// signing keys from the database, storage (Redis or in-process) and the user directory.
import type { Redis } from 'ioredis';
import type Provider from 'oidc-provider';
import type { Registry } from 'prom-client';
import type { Knex } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import type { IdpConfig } from '../config.ts';
import type { UserDirectory } from '../login/types.ts';
import {
  ALL_ACCOUNTS,
  createGrantRevoker,
  createMemoryAccountIndex,
  createRedisAccountIndex,
  withAccountIndex,
  type RevokeUserGrants,
} from './account-index.ts';
import { createOidcAdapter } from './adapters/index.ts';
import { installBackchannelLogouts } from './backchannel.ts';
import { withHashedClientSecrets } from './client-secrets.ts';
import { loadClientsFile } from './clients.ts';
import { keyCipherFromConfig } from './keys/key-encryption.ts';
import { createKeyRing, type KeyRing } from './keys/key-ring.ts';
import { instrumentProvider } from './metrics.ts';
import { createProvider, OIDC_SCOPES, type LegacyIdentityLookup, type ProviderPages } from './provider.ts';
import { loadResourcesFile, type ResourceRegistry } from './resources.ts';
import { DeclarationFileError } from './yaml-file.ts';

export { mountProvider } from './mount.ts';
export type { RevokeUserGrants, RevokeUserGrantsResult } from './account-index.ts';
import type { RevokeUserGrantsResult } from './account-index.ts';
export type { ProviderPages } from './provider.ts';

export interface OidcDeps {
  config: IdpConfig;
  knex: Knex;
  redis?: Redis;
  users: UserDirectory;
  legacyIdentity?: LegacyIdentityLookup;
  logger: Logger;
  registry?: Registry;
  pages?: ProviderPages;
}

export interface Oidc {
  provider: Provider;
  keyRing: KeyRing;
  resources: ResourceRegistry;
  /** For password changes and resets: revoke the account's other grants and sessions. */
  revokeUserGrants: RevokeUserGrants;
  /**
   * Ends every session and revokes every grant of the account, on every device; each client
   * signed in through those sessions is told by back-channel logout. For a password reset and
   * the admin's "sign out everywhere".
   */
  endEverySession(accountId: string): Promise<RevokeUserGrantsResult>;
  /** Stops the key reload and the back-channel logout worker (what is owed stays stored). */
  close(): Promise<void>;
}

export async function createOidc(deps: OidcDeps): Promise<Oidc> {
  const { config, logger } = deps;
  const resources = loadResourcesFile(config.IDP_RESOURCES_FILE);
  const knownScopes = new Set<string>([...OIDC_SCOPES, ...resources.scopes()]);
  const registrationScopes = config.IDP_REGISTRATION_SCOPES.split(' ');
  const unknown = registrationScopes.filter((s) => !knownScopes.has(s));
  if (unknown.length) throw new DeclarationFileError('IDP_REGISTRATION_SCOPES', [`${unknown.join(' ')}: not an OIDC scope nor declared by any resource`]);
  const policy = { allowHttpLoopbackForWeb: config.IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS, registrationScopes };
  const clients = loadClientsFile(config.IDP_CLIENTS_FILE, {
    ...policy,
    secretKey: config.IDP_CLIENT_SECRET_KEY,
    previousSecretKeys: config.IDP_CLIENT_SECRET_KEYS_PREVIOUS,
    knownScopes,
  });

  const keyRing = await createKeyRing(deps.knex, {
    development: config.NODE_ENV !== 'production',
    pollMs: config.IDP_KEYS_POLL_SECONDS * 1000,
    logger,
    cipher: keyCipherFromConfig(config),
  });

  const index = deps.redis ? createRedisAccountIndex(deps.redis) : createMemoryAccountIndex();
  const adapter = withHashedClientSecrets(withAccountIndex(createOidcAdapter({ redis: deps.redis }), index), config.IDP_CLIENT_SECRET_KEY);

  const provider = createProvider({
    issuer: config.IDP_ISSUER,
    adapter,
    clients,
    resources,
    jwks: keyRing.initial.jwks,
    users: deps.users,
    ...(deps.legacyIdentity ? { legacyIdentity: deps.legacyIdentity } : {}),
    cookieKeys: config.IDP_COOKIE_KEYS.split(',')
      .map((k) => k.trim())
      .filter(Boolean),
    clientSecretKey: config.IDP_CLIENT_SECRET_KEY,
    previousClientSecretKeys: config.IDP_CLIENT_SECRET_KEYS_PREVIOUS,
    ...(config.IDP_REGISTRATION_ENABLED ? { registrationAccessToken: config.IDP_REGISTRATION_ACCESS_TOKEN } : {}),
    policy,
    pkceForConfidential: config.IDP_PKCE_REQUIRED_FOR_CONFIDENTIAL,
    ttl: {
      accessToken: config.IDP_TTL_ACCESS_TOKEN,
      clientCredentials: config.IDP_TTL_CLIENT_CREDENTIALS,
      authorizationCode: config.IDP_TTL_AUTHORIZATION_CODE,
      idToken: config.IDP_TTL_ID_TOKEN,
      refreshToken: config.IDP_TTL_REFRESH_TOKEN,
      session: config.IDP_TTL_SESSION,
      legacySession: config.IDP_TTL_LEGACY_SESSION,
      grant: config.IDP_TTL_GRANT,
      interaction: config.IDP_TTL_INTERACTION,
    },
    ...(deps.pages ? { pages: deps.pages } : {}),
    logger,
  });

  // oidc-provider builds static clients lazily, at their first request; build each now so a
  // client it would refuse stops the start, named, instead of failing its first sign-in.
  const refused: string[] = [];
  for (const client of clients) {
    try {
      await provider.Client.validate(client);
    } catch (error) {
      const e = error as { error_description?: string; message: string };
      refused.push(`client "${client.client_id}": ${e.error_description ?? e.message}`);
    }
  }
  if (refused.length) throw new DeclarationFileError(config.IDP_CLIENTS_FILE, refused);

  keyRing.attach(provider);
  const backchannel = installBackchannelLogouts(provider, { knex: deps.knex, logger, ...(deps.registry ? { registry: deps.registry } : {}) });
  backchannel.start();
  const revokeUserGrants = createGrantRevoker(adapter, index, (session) => backchannel.sessionEnded(session));
  if (deps.registry) {
    instrumentProvider(provider, { registry: deps.registry, activeSessions: () => index.count('session', ALL_ACCOUNTS) });
  }
  return {
    provider,
    keyRing,
    resources,
    revokeUserGrants,
    endEverySession: (accountId) => revokeUserGrants(accountId),
    async close() {
      keyRing.stop();
      await backchannel.close();
    },
  };
}
