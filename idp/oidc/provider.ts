// The oidc-provider configuration: every choice that differs from the library's defaults is
// here, with the specification it follows. The storage, clients, resources and keys arrive
// already loaded and validated (see createOidc in ./index.ts).
import { escapeHtml } from '../../lib/html.ts';
import { pageHeaders } from '../../lib/page-headers.ts';
import Provider, { errors, type Account, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../../lib/logger.ts';
import type { UserDirectory } from '../login/types.ts';
import type { OidcAdapterFactory } from './adapters/index.ts';
import { extraClientMetadata, type RegistrationPolicy } from './client-policy.ts';
import { generateClientSecret, verifyClientSecret, type ClientSecretKeys } from './client-secrets.ts';
import type { Jwk } from './keys/key-store.ts';
import type { ResourceRegistry } from './resources.ts';
import { installOutageAnswers } from './outage-answers.ts';
import { correctErrorOut, installSpecErrors } from './spec-errors.ts';
import { LEGACY_SESSION_AMR } from '../interactions/legacy-session.ts';
import { capToLegacySession, vouchedByLegacySession } from './legacy-session-cap.ts';

/** Lifetimes in seconds. */
export interface TokenTtls {
  accessToken: number;
  clientCredentials: number;
  authorizationCode: number;
  idToken: number;
  refreshToken: number;
  session: number;
  /** Sessions whose only proof was a legacy PHP session (amr legacy_session). */
  legacySession: number;
  grant: number;
  interaction: number;
}

type PageHook<A extends unknown[]> = (ctx: KoaContextWithOIDC, ...args: A) => Promise<void>;

/** The pages oidc-provider renders itself; the interaction pages module provides them. */
export interface ProviderPages {
  renderError?: PageHook<[out: Record<string, unknown>, error: unknown]>;
  logoutSource?: PageHook<[form: string]>;
  postLogoutSuccessSource?: PageHook<[]>;
  /** The 503 page for a browser whose request met a Redis outage inside oidc-provider. */
  unavailable?: PageHook<[]>;
}

export interface ProviderDeps {
  issuer: string;
  adapter: OidcAdapterFactory;
  clients: ClientMetadata[];
  resources: ResourceRegistry;
  jwks: { keys: Jwk[] };
  users: UserDirectory;
  /** The user's legacy account, for resources that ask for legacy claims in their access tokens. */
  legacyIdentity?: LegacyIdentityLookup;
  cookieKeys: string[];
  /** HMAC key of stored client secrets (IDP_CLIENT_SECRET_KEY). */
  clientSecretKey: string;
  /** Older keys whose hashes still verify (IDP_CLIENT_SECRET_KEYS_PREVIOUS). */
  previousClientSecretKeys?: readonly string[];
  /** Unset disables dynamic registration. */
  registrationAccessToken?: string;
  policy: RegistrationPolicy;
  /** PKCE for confidential web clients, unless the client says otherwise (pkce_required). */
  pkceForConfidential: boolean;
  ttl: TokenTtls;
  pages?: ProviderPages;
  logger: Logger;
}

/** Which monolith account an idp user is: undefined for an unknown, inactive or idp-only user. */
export type LegacyIdentityLookup = (sub: string) => Promise<{ legacyId: string; username: string | null } | undefined>;

export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;

const CLAIMS = {
  // amr with openid: every ID token says how the user signed in (pwd, legacy_session).
  openid: ['sub', 'amr'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username', 'updated_at'],
};

// Every response type but `token` alone (which oidc-provider refuses to configure, and RFC 9700
// deprecates): code, implicit id_token / id_token token, and hybrid.
const RESPONSE_TYPES = ['code', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token', 'none'];

/** A minimal, safe error page for when the interaction pages are not wired in (tests). */
async function plainErrorPage(ctx: KoaContextWithOIDC, out: Record<string, unknown>): Promise<void> {
  for (const [name, value] of Object.entries(pageHeaders())) ctx.set(name, value);
  ctx.body = `<!doctype html><meta charset="utf-8"><title>Sign-in error</title><h1>Sign-in could not continue</h1><p>Error code: ${escapeHtml(out.error)}${out.error_description ? ` (${escapeHtml(out.error_description)})` : ''}</p>`;
}

function audiencesOf(token: Record<string, unknown>): string[] {
  const aud = token.aud;
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return typeof aud === 'string' ? [aud] : [];
}

export function createProvider(deps: ProviderDeps): Provider {
  const { resources, users, ttl } = deps;
  const scopes = [...OIDC_SCOPES, ...resources.scopes()];
  const renderPage = deps.pages?.renderError ?? plainErrorPage;

  async function findAccount(_ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> {
    const user = await users.findById(sub);
    if (!user || !user.active) return undefined;
    return {
      accountId: user.id,
      claims() {
        return {
          sub: user.id,
          ...(user.email ? { email: user.email, email_verified: user.emailVerified } : {}),
          ...(user.username ? { preferred_username: user.username } : {}),
          ...(user.name ? { name: user.name } : {}),
          updated_at: Math.floor(user.updatedAt.getTime() / 1000),
        };
      },
    };
  }

  // oidc-provider refuses outgoing requests to private and loopback addresses (SSRF). The
  // back-channel logout endpoints ops declared in the clients file are trusted (often internal
  // services); anything a dynamically registered client names stays protected.
  const trustedOutbound = new Set(
    deps.clients
      .map((c) => c.backchannel_logout_uri)
      .filter((u): u is string => typeof u === 'string')
      .map((u) => new URL(u).href),
  );
  const outboundFetch = (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => {
    if (trustedOutbound.has(new URL(url).href)) delete options.dispatcher;
    return globalThis.fetch(url, options);
  };

  /**
   * The legacy claims a resource declared (`access_token_claims`), so an API in front of the
   * monolith learns its account from the token instead of asking the idp on every request.
   * Client-credentials tokens have no user and get none.
   */
  async function extraTokenClaims(_ctx: KoaContextWithOIDC, token: { accountId?: string; resourceServer?: { audience?: string } }) {
    const audience = token.resourceServer?.audience;
    const wanted = audience === undefined ? undefined : resources.byAudience(audience)?.accessTokenClaims;
    if (!wanted?.length || !token.accountId || !deps.legacyIdentity) return undefined;
    const identity = await deps.legacyIdentity(token.accountId);
    if (!identity) return undefined;
    const claims: Record<string, string> = {};
    if (wanted.includes('legacy_id')) claims.legacy_id = identity.legacyId;
    if (wanted.includes('legacy_username') && identity.username !== null) claims.legacy_username = identity.username;
    return claims;
  }

  const configuration = {
    adapter: deps.adapter,
    extraTokenClaims,
    fetch: outboundFetch,
    clients: deps.clients,
    jwks: deps.jwks,
    findAccount,
    claims: CLAIMS,
    scopes,
    responseTypes: RESPONSE_TYPES,
    // client_secret_jwt is left out: it needs the plaintext secret as an HMAC key, and secrets
    // are stored hashed. HMAC-signed ID tokens and request objects are out for the same reason.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      idTokenSigningAlgValues: ['RS256'],
      userinfoSigningAlgValues: ['RS256'],
      introspectionSigningAlgValues: ['RS256'],
      authorizationSigningAlgValues: ['RS256'],
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: extraClientMetadata(deps.policy),
    // RFC 9700 §2.1 / §4.1.3: redirect_uri always sent and compared exactly.
    allowOmittingSingleRegisteredRedirectUri: false,
    pkce: {
      // RFC 9700 §2.1.1: PKCE (S256 only, which oidc-provider 9 enforces) for public clients and
      // native apps always; for confidential ones per configuration or client.
      required(_ctx: KoaContextWithOIDC, client: { clientAuthMethod: string; applicationType: string; pkce_required?: boolean; pkceRequired?: boolean }) {
        if (client.clientAuthMethod === 'none' || client.applicationType === 'native') return true;
        const own = client.pkce_required ?? client.pkceRequired;
        return typeof own === 'boolean' ? own : deps.pkceForConfidential;
      },
    },
    // RFC 9700 §4.14.2: every use rotates; the rotated one presented again revokes the grant
    // (oidc-provider's refresh_token grant does that for a consumed token).
    rotateRefreshToken: true,
    // offline_access is for a user who proved a credential to us: a PHP session cookie (which
    // may have been stolen) buys no refresh token, and its tokens die with the idp session.
    async issueRefreshToken(ctx: KoaContextWithOIDC, client: { grantTypeAllowed(type: string): boolean }, source: { scopes: Set<string>; amr?: unknown }) {
      return client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access') && !vouchedByLegacySession(ctx, source);
    },
    async expiresWithSession(ctx: KoaContextWithOIDC, source: { scopes: Set<string> }) {
      return !source.scopes.has('offline_access') || vouchedByLegacySession(ctx, source);
    },
    cookies: {
      keys: deps.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // Whatever a legacy-session sign-in yields ends with that PHP session's lifetime, counted
    // from the sign-in (capToLegacySession); rotation keeps the sign-in time, so keeps the cap.
    ttl: {
      AccessToken: (ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) =>
        capToLegacySession(token.resourceServer?.accessTokenTTL ?? ttl.accessToken, ctx, token, ttl.legacySession),
      ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) =>
        token.resourceServer?.accessTokenTTL ?? ttl.clientCredentials,
      AuthorizationCode: ttl.authorizationCode,
      IdToken: (ctx: unknown, token: unknown) => capToLegacySession(ttl.idToken, ctx, token, ttl.legacySession),
      RefreshToken: (ctx: unknown, token: unknown) => capToLegacySession(ttl.refreshToken, ctx, token, ttl.legacySession),
      // A stolen PHP session id must not become a 14-day sign-in: a session that only a legacy
      // session vouched for keeps that one's lifetime until the user signs in with a password.
      Session: (_ctx: unknown, session: { amr?: string[] }) => (session.amr?.includes(LEGACY_SESSION_AMR) ? ttl.legacySession : ttl.session),
      Grant: ttl.grant,
      Interaction: ttl.interaction,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      PreAuthorizedCode: 600,
    },
    interactions: {
      url: (_ctx: KoaContextWithOIDC, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    async renderError(ctx: KoaContextWithOIDC, out: Record<string, unknown>, error: unknown) {
      await renderPage(ctx, correctErrorOut(ctx, out), error);
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        ...(deps.pages?.logoutSource ? { logoutSource: deps.pages.logoutSource } : {}),
        ...(deps.pages?.postLogoutSuccessSource ? { postLogoutSuccessSource: deps.pages.postLogoutSuccessSource } : {}),
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only its own tokens.
        async allowedPolicy(_ctx: KoaContextWithOIDC, client: { clientId: string; clientAuthMethod: string }, token: { clientId?: string }) {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      introspection: {
        enabled: true,
        // RFC 7662 §2.1: the endpoint is for protected resources. Only confidential clients that a
        // resource declares in `introspection_clients` get an answer, and only for tokens meant
        // for that resource (or audience-less ones, which only the userinfo endpoint accepts).
        async allowedPolicy(_ctx: KoaContextWithOIDC, client: { clientId: string; clientAuthMethod: string }, token: Record<string, unknown>) {
          if (client.clientAuthMethod === 'none') return false;
          const mine = resources.all.filter((r) => r.introspectionClients.has(client.clientId)).map((r) => r.audience);
          if (!mine.length) return false;
          if (token.kind === 'RefreshToken') return false;
          const audiences = audiencesOf(token);
          return audiences.length === 0 || audiences.some((a) => mine.includes(a));
        },
      },
      registration: {
        enabled: Boolean(deps.registrationAccessToken),
        initialAccessToken: deps.registrationAccessToken ?? false,
        // Secrets are generated (never chosen by the client: registration overwrites one it sends)
        // and stored hashed, so the registration access token could only ever read a hash back.
        secretFactory: async () => generateClientSecret(),
        issueRegistrationAccessToken: false,
      },
      resourceIndicators: {
        enabled: true,
        // A request that names no resource is for the API its scopes belong to (each scope has one).
        async defaultResource(ctx: KoaContextWithOIDC, _client: unknown, oneOf?: string[]) {
          if (oneOf) return oneOf.length === 1 ? oneOf[0] : oneOf;
          const scope = ctx.oidc.params?.scope;
          if (typeof scope !== 'string') return undefined;
          const matches = resources.forScopes(scope.split(' ')).map((r) => r.audience);
          if (matches.length === 0) return undefined;
          return matches.length === 1 ? matches[0] : matches;
        },
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx: KoaContextWithOIDC, indicator: string) {
          const server = resources.byAudience(indicator);
          if (!server) throw new errors.InvalidTarget(`${indicator} is not a resource this server issues tokens for`);
          return {
            scope: [...server.scopes.keys()].join(' '),
            audience: server.audience,
            accessTokenTTL: server.accessTokenTtl ?? ttl.accessToken,
            accessTokenFormat: server.accessTokenFormat,
            ...(server.accessTokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
          };
        },
      },
    },
  };

  const provider = new Provider(deps.issuer, configuration);
  installHashedSecretCheck(provider, { current: deps.clientSecretKey, previous: deps.previousClientSecretKeys ?? [] });
  installSpecErrors(provider);
  installOutageAnswers(provider, { logger: deps.logger, ...(deps.pages?.unavailable ? { page: deps.pages.unavailable } : {}) });
  return provider;
}

/**
 * Stored client secrets are HMACs (see client-secrets.ts); oidc-provider compares the stored
 * value with the presented one, so its comparison is replaced by recomputing the HMAC.
 */
function installHashedSecretCheck(provider: Provider, keys: ClientSecretKeys): void {
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, presented: string) {
    return typeof this.clientSecret === 'string' && verifyClientSecret(presented, this.clientSecret, keys);
  };
}
