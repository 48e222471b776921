// OpenID Connect Back-Channel Logout 1.0 §2.6: what makes a logout token valid for this client.
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { keySetUnavailable } from '../api-auth/access-token.ts';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Who is logged out: the idp session (`sid`), or every session of the user (`sub` alone). */
export interface LogoutClaims {
  sid: string | undefined;
  sub: string | undefined;
  jti: string;
}

export type LogoutVerification = { ok: true; claims: LogoutClaims } | { ok: false; reason: 'invalid' | 'unavailable'; detail: string };

export interface LogoutTokenVerifierOptions {
  /** The idp's JWKS, fetched from IDP_UPSTREAM_URL directly (not through the gateway itself). */
  jwksUrl: string;
  issuer: string;
  /** The gateway's client id: the token's audience. */
  clientId: string;
  clockToleranceSeconds: number;
}

// The idp signs with RS256 only; naming it closes algorithm confusion (and `none`).
const ALGORITHMS = ['RS256'];
/** A logout token is sent the moment it is made: older than this, it is a replay or a delayed copy. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;

const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** The spec's own claim rules, on a payload whose signature, iss, aud and iat jose checked. */
function claimsOf(payload: JWTPayload): LogoutClaims | string {
  const events = payload.events as Record<string, unknown> | undefined;
  const event = events && typeof events === 'object' && !Array.isArray(events) ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
  if (!event || typeof event !== 'object' || Array.isArray(event)) return 'no back-channel logout event';
  // §2.4: a nonce would make it confusable with an ID token.
  if ('nonce' in payload) return 'nonce present';
  if (!nonEmptyString(payload.jti)) return 'no jti';
  const sid = payload.sid;
  const sub = payload.sub;
  if (sid !== undefined && !nonEmptyString(sid)) return 'malformed sid';
  if (sub !== undefined && !nonEmptyString(sub)) return 'malformed sub';
  if (sid === undefined && sub === undefined) return 'neither sid nor sub';
  return { sid, sub, jti: payload.jti };
}

export function createLogoutTokenVerifier(options: LogoutTokenVerifierOptions) {
  // Cached, refetched for an unknown kid (a rotation), never more often than the cooldown.
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 2_000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  return {
    /** Never throws; the detail names the problem, never the token. */
    async verify(token: string): Promise<LogoutVerification> {
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: options.issuer,
          audience: options.clientId,
          // §2.4 recommends explicit typing, which oidc-provider does: an ID token is never a logout token.
          typ: 'logout+jwt',
          algorithms: ALGORITHMS,
          clockTolerance: options.clockToleranceSeconds,
          maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
          requiredClaims: ['iat', 'jti', 'events'],
        });
        const claims = claimsOf(payload);
        return typeof claims === 'string' ? { ok: false, reason: 'invalid', detail: claims } : { ok: true, claims };
      } catch (error) {
        if (keySetUnavailable(error)) return { ok: false, reason: 'unavailable', detail: `JWKS fetch failed: ${(error as Error).message}` };
        return { ok: false, reason: 'invalid', detail: (error as { code?: string }).code ?? 'invalid' };
      }
    },
  };
}

export type LogoutTokenVerifier = ReturnType<typeof createLogoutTokenVerifier>;
