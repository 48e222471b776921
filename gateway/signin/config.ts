import { z } from 'zod';
import { httpUrl, legacySessionBridgeSecret, legacySessionLifetime, legacySessionName, secret, variable } from '../../lib/config.ts';

/** The gateway's OpenID Connect relying party and session bridge (/auth/login, /auth/callback, /auth/logout, /auth/backchannel-logout). */
export const relyingPartyEnv = {
  GATEWAY_PUBLIC_URL: variable(
    httpUrl.optional(),
    "The site's public origin: the session bridge's redirect URI is `<it>/auth/callback`, logout returns to `<it>/`, and `return_to` must stay on it.",
    { default: 'the origin of `IDP_ISSUER`' },
  ),
  GATEWAY_OIDC_CLIENT_ID: variable(z.string().min(1).default('gateway'), "The gateway's client at the idp (the idp's clients file)."),
  GATEWAY_OIDC_CLIENT_SECRET: variable(secret('dev-only-gateway-oidc-client-secret-change-me'), "That client's secret (the clients file holds its hash)."),
  GATEWAY_AUTH_COOKIE_SECRET: variable(
    secret('dev-only-gateway-auth-cookie-secret-change-me'),
    "HMAC key of the short-lived sign-in cookie (`gw_signin`: state, nonce, PKCE verifier, where to return) and, through a key derived from it, of the canary's `gw_bucket` cookie; the same on every replica. Changing it puts anonymous canary visitors in new buckets once.",
  ),
  LEGACY_SESSION_NAME: variable(
    legacySessionName,
    "Deprecated here: the monolith's session cookie is the one the legacy-adapter announces (the mapping's `session.cookie`); this name is used only while an adapter from before that contract announces none.",
  ),
  LEGACY_SESSION_LIFETIME: variable(
    legacySessionLifetime,
    "How long, in seconds, the gateway remembers which idp session made each PHP session, for back-channel logout: keep it at the monolith's session lifetime (the legacy-adapter's `LEGACY_SESSION_LIFETIME`).",
  ),
  LEGACY_ADAPTER_URL: variable(
    httpUrl.default('http://127.0.0.1:3002'),
    "The legacy-adapter's internal API, whose `/internal/v1/sessions` writes the PHP session.",
  ),
  LEGACY_SESSION_BRIDGE_SECRET: legacySessionBridgeSecret,
};
