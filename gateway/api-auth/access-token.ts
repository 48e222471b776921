// Verifies the idp's access tokens for the gateway: JWTs (RFC 9068) against the idp's JWKS, opaque
// ones by introspection (RFC 7662). Used for admin access by an admin-scoped token, canary
// stickiness by the token's subject, and API routes' bearer checks. One verifier per process, so
// the idp's keys are fetched once and every verified token is cached once for all three.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { createIntrospection, type IntrospectionOptions } from './introspection.ts';
import { TokenCache } from './token-cache.ts';

export interface AccessTokenClaims {
  sub: string;
  clientId: string | undefined;
  scopes: Set<string>;
  audiences: string[];
  /** The user's monolith account, when the token's resource asks for it (idp/resources.yaml). */
  legacyId: string | undefined;
  legacyUsername: string | undefined;
  /** exp, in seconds since the epoch. */
  expiresAt: number;
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
  /** Least time between two JWKS fetches, however many unknown `kid`s arrive (a rotation is picked up after it). */
  jwksCooldownMs?: number;
  /** Verified tokens kept (least recently used out first); 0: none. */
  cacheSize?: number;
  /** Opaque tokens are introspected only when set; `cacheSeconds` caps how long an answer is reused. */
  introspection?: IntrospectionOptions & { cacheSeconds: number };
}

// The idp signs access tokens with RS256 only; accepting fewer algorithms than the JOSE library
// knows closes the algorithm-confusion family of attacks.
const ALGORITHMS = ['RS256'];
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;
// The idp's opaque tokens are base64url ids (oidc-provider: 43 characters); anything else is not worth a question to it.
const OPAQUE_SHAPE = /^[\w-]{16,512}$/;
const FETCH_BACKOFF_MS = 5_000;

/**
 * The key set could not be had: a timeout, a non-200 or non-JWKS answer (jose's generic error),
 * or a network error (not a JOSEError at all). Everything else is the token's fault.
 */
export function keySetUnavailable(error: unknown): boolean {
  return (
    !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC'
  );
}

const optionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';

/** The claims of a verified JWT payload or an active introspection answer (same names, RFC 7662 2.2). */
function claimsOf(payload: JWTPayload | Record<string, unknown>): AccessTokenClaims | undefined {
  const { sub, scope, client_id: clientId, aud, exp, legacy_id: legacyId, legacy_username: legacyUsername } = payload;
  if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number') return undefined;
  if (!optionalString(scope) || !optionalString(clientId) || !optionalString(legacyId) || !optionalString(legacyUsername)) return undefined;
  const audiences = aud === undefined ? [] : Array.isArray(aud) ? aud : [aud];
  if (!audiences.every((a) => typeof a === 'string')) return undefined;
  return {
    sub,
    clientId,
    scopes: new Set((scope ?? '').split(' ').filter(Boolean)),
    audiences: audiences as string[],
    legacyId,
    legacyUsername,
    expiresAt: exp,
  };
}

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions) {
  // jose caches the key set, refetches it when a token names an unknown kid (a rotation), and
  // never more often than the cooldown, so a flood of forged kids cannot hammer the idp.
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: options.fetchTimeoutMs ?? 2_000,
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  // After a failed fetch, tokens that would need one fail fast for a while: an idp that does not
  // answer must not add the fetch timeout to every bearer request on a canary route.
  let fetchFailedAt = -Infinity;
  const needsFetch = () => keys.jwks() === undefined || !keys.fresh;
  // A verified token until its exp; an introspection answer (active or not) for a short while, and never past exp.
  const cache = new TokenCache<AccessTokenClaims | 'inactive'>(options.cacheSize ?? 10_000);
  const introspection = options.introspection;
  const introspect = introspection ? createIntrospection(introspection) : undefined;

  /** Signature, issuer, `typ: at+jwt`, exp/nbf (with clock tolerance); the audience is the caller's. */
  async function verifyJwt(token: string): Promise<Verification> {
    if (performance.now() - fetchFailedAt < FETCH_BACKOFF_MS && needsFetch()) return { ok: false, reason: 'unavailable', detail: 'JWKS fetch failed recently' };
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        typ: 'at+jwt',
        algorithms: ALGORITHMS,
        clockTolerance,
        requiredClaims: ['exp', 'sub'],
      });
      const claims = claimsOf(payload);
      if (!claims) return { ok: false, reason: 'invalid', detail: 'malformed sub, scope, client_id or legacy claim' };
      cache.set(token, claims, claims.expiresAt * 1000);
      return { ok: true, claims };
    } catch (error) {
      // The key set could not be had: a timeout, a non-200 or non-JWKS answer (jose's generic
      // error), or a network error (not a JOSEError at all). Everything else is the token's fault.
      const keysMissing =
        !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC';
      if (keysMissing) {
        fetchFailedAt = performance.now();
        return { ok: false, reason: 'unavailable', detail: `JWKS fetch failed: ${(error as Error).message}` };
      }
      return { ok: false, reason: 'invalid', detail: error.code };
    }
  }

  /** An opaque token as the idp's introspection describes it: an active Bearer access token of our issuer. */
  async function verifyOpaque(token: string): Promise<Verification> {
    if (!introspect || !introspection || !OPAQUE_SHAPE.test(token)) return { ok: false, reason: 'invalid', detail: 'not a JWT' };
    const answer = await introspect(token);
    if ('unavailable' in answer) return { ok: false, reason: 'unavailable', detail: answer.unavailable };
    const now = Date.now();
    const shortly = now + introspection.cacheSeconds * 1000;
    const fields = answer.active ? answer.fields : undefined;
    // A refresh token or a sender-constrained (DPoP, mTLS) one is not a bearer access token.
    const claims = fields && fields.iss === options.issuer && fields.token_type === 'Bearer' && fields.cnf === undefined ? claimsOf(fields) : undefined;
    if (!claims || claims.expiresAt * 1000 <= now) {
      cache.set(token, 'inactive', shortly);
      return {
        ok: false,
        reason: 'invalid',
        detail: answer.active ? 'introspection: not an active bearer access token of this issuer' : 'introspection: inactive',
      };
    }
    cache.set(token, claims, Math.min(shortly, claims.expiresAt * 1000));
    return { ok: true, claims };
  }

  function forAudience(result: Verification, audience: string | undefined): Verification {
    if (result.ok && audience !== undefined && !result.claims.audiences.includes(audience)) return { ok: false, reason: 'invalid', detail: 'audience' };
    return result;
  }

  function fromCache(token: string): Verification | undefined {
    const cached = cache.get(token, Date.now());
    if (cached === undefined) return undefined;
    return cached === 'inactive' ? { ok: false, reason: 'invalid', detail: 'introspection: inactive' } : { ok: true, claims: cached };
  }

  return {
    /**
     * The token's claims when it is valid now and, when given, has `audience` among its `aud`.
     * Cached per token. Never throws; the detail names the problem, never the token. Opaque
     * tokens are introspected only when `introspect` is set (API routes): elsewhere (the admin
     * API, canary stickiness) a string that is no JWT must not make the gateway call the idp.
     */
    async verify(token: string, audience?: string, { introspect: opaque = false }: { introspect?: boolean } = {}): Promise<Verification> {
      const known = fromCache(token);
      if (known) return forAudience(known, audience);
      if (JWT_SHAPE.test(token)) return forAudience(await verifyJwt(token), audience);
      return opaque ? forAudience(await verifyOpaque(token), audience) : { ok: false, reason: 'invalid', detail: 'not a JWT' };
    },
    /** What verify would answer, when the cache knows without waiting for anything; else undefined. */
    peek(token: string, audience?: string): Verification | undefined {
      const cached = fromCache(token);
      return cached && forAudience(cached, audience);
    },
  };
}

export type AccessTokenVerifier = ReturnType<typeof createAccessTokenVerifier>;
