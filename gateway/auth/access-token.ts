// Verifies the idp's JWT access tokens (RFC 9068) for the gateway itself: admin access by an
// admin-scoped token, and canary stickiness by the token's subject. One verifier per process,
// so the idp's keys are fetched once and shared by both.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface AccessTokenClaims {
  sub: string;
  clientId: string | undefined;
  scopes: Set<string>;
  audiences: string[];
}

export type Verification =
  | { ok: true; claims: AccessTokenClaims }
  /** invalid: the token is not one of ours, or not valid now; unavailable: the idp's keys could not be fetched. */
  | { ok: false; reason: 'invalid' | 'unavailable'; detail: string };

export interface AccessTokenVerifierOptions {
  /** The idp's JWKS, fetched from IDP_UPSTREAM_URL directly so it does not loop through the gateway. */
  jwksUrl: string;
  issuer: string;
  clockToleranceSeconds?: number;
  /** A JWKS fetch slower than this fails the verification as unavailable (it may hold up a proxied request). */
  fetchTimeoutMs?: number;
}

// The idp signs access tokens with RS256 only; accepting fewer algorithms than the JOSE library
// knows closes the algorithm-confusion family of attacks.
const ALGORITHMS = ['RS256'];
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;
const FETCH_BACKOFF_MS = 5_000;

/**
 * The key set could not be had: a timeout, a non-200 or non-JWKS answer (jose's generic error),
 * or a network error (not a JOSEError at all). Everything else is the token's fault.
 */
export function keySetUnavailable(error: unknown): boolean {
  return !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC';
}

function claimsOf(payload: JWTPayload): AccessTokenClaims | undefined {
  const scope = payload.scope;
  const clientId = payload.client_id;
  if (typeof payload.sub !== 'string' || payload.sub === '') return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  if (clientId !== undefined && typeof clientId !== 'string') return undefined;
  const aud = payload.aud;
  return {
    sub: payload.sub,
    clientId,
    scopes: new Set((scope ?? '').split(' ').filter(Boolean)),
    audiences: aud === undefined ? [] : Array.isArray(aud) ? aud : [aud],
  };
}

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions) {
  // jose caches the key set, refetches it when a token names an unknown kid (a rotation), and
  // never more often than the cooldown, so a flood of forged kids cannot hammer the idp.
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: options.fetchTimeoutMs ?? 2_000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  // After a failed fetch, tokens that would need one fail fast for a while: an idp that does not
  // answer must not add the fetch timeout to every bearer request on a canary route.
  let fetchFailedAt = -Infinity;
  const needsFetch = () => keys.jwks() === undefined || !keys.fresh;

  return {
    /**
     * Checks signature, issuer, `typ: at+jwt`, exp/nbf (with clock tolerance) and, when given,
     * the audience. Never throws; the detail names the problem, never the token.
     */
    async verify(token: string, audience?: string): Promise<Verification> {
      if (!JWT_SHAPE.test(token)) return { ok: false, reason: 'invalid', detail: 'not a JWT' };
      if (performance.now() - fetchFailedAt < FETCH_BACKOFF_MS && needsFetch()) return { ok: false, reason: 'unavailable', detail: 'JWKS fetch failed recently' };
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: options.issuer,
          ...(audience === undefined ? {} : { audience }),
          typ: 'at+jwt',
          algorithms: ALGORITHMS,
          clockTolerance,
          requiredClaims: ['exp', 'sub'],
        });
        const claims = claimsOf(payload);
        if (!claims) return { ok: false, reason: 'invalid', detail: 'malformed sub, scope or client_id claim' };
        return { ok: true, claims };
      } catch (error) {
        if (keySetUnavailable(error)) {
          fetchFailedAt = performance.now();
          return { ok: false, reason: 'unavailable', detail: `JWKS fetch failed: ${(error as Error).message}` };
        }
        return { ok: false, reason: 'invalid', detail: (error as errors.JOSEError).code };
      }
    },
  };
}

export type AccessTokenVerifier = ReturnType<typeof createAccessTokenVerifier>;
