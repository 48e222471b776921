import { z } from 'zod';
import { httpUrl, legacySessionBridgeSecret, legacySessionLifetime, legacySessionName, secret } from '../../lib/config.ts';

/** The gateway's OpenID Connect relying party and session bridge (/auth/login, /auth/callback, /auth/logout, /auth/backchannel-logout). */
export const relyingPartyEnv = {
  /** The site's public origin, where /auth/callback is reached; unset: the origin of IDP_ISSUER. */
  GATEWAY_PUBLIC_URL: httpUrl.optional(),
  /** The gateway's client at the idp (idp/clients.yaml). */
  GATEWAY_OIDC_CLIENT_ID: z.string().min(1).default('gateway'),
  GATEWAY_OIDC_CLIENT_SECRET: secret('dev-only-gateway-oidc-client-secret-change-me'),
  /** HMAC key of the short-lived sign-in cookie (state, nonce, PKCE verifier, where to return); the canary bucket cookie's key is derived from it. */
  GATEWAY_AUTH_COOKIE_SECRET: secret('dev-only-gateway-auth-cookie-secret-change-me'),
  /**
   * Deprecated: the monolith's session cookie is what the legacy-adapter announces (the mapping's
   * session.cookie); this name is used only while an adapter from before that contract announces none.
   */
  LEGACY_SESSION_NAME: legacySessionName,
  /** The monolith's session lifetime (the legacy-adapter's LEGACY_SESSION_LIFETIME): how long the gateway remembers which idp session made a PHP session, for back-channel logout. */
  LEGACY_SESSION_LIFETIME: legacySessionLifetime,
  /** The legacy-adapter's internal API, whose /internal/v1/sessions writes the PHP session. */
  LEGACY_ADAPTER_URL: httpUrl.default('http://127.0.0.1:3002'),
  LEGACY_SESSION_BRIDGE_SECRET: legacySessionBridgeSecret,
};
