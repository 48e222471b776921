// An API route's door (its `auth` block, routes/auth.ts): the request's bearer access token is
// verified for the route's audience, must hold the scopes its method needs, and becomes the
// identity headers the route names. Refusals are RFC 6750's: 401 invalid_token, 403
// insufficient_scope with the scope needed; an idp that cannot be asked is 503, never a 401.
import type { BearerOutcome } from '../metrics.ts';
import { requiredScopes, type IdentityClaim, type RouteAuth } from '../routes/auth.ts';
import type { AccessTokenClaims, AccessTokenVerifier, Verification } from './access-token.ts';

export type GuardResult =
  | {
      ok: true;
      outcome: 'ok' | 'anonymous';
      claims: AccessTokenClaims | undefined;
      headers: [string, string][];
      /** The same as request-head lines. */ lines: string;
    }
  | {
      ok: false;
      outcome: Exclude<BearerOutcome, 'ok' | 'anonymous'>;
      status: 401 | 403 | 503;
      error: string;
      headers: Record<string, string>;
      detail?: string;
    };

// A header line is written as is (proxy/headers.ts requestHeadFrom): only printable ASCII may go in one.
const HEADER_SAFE = /^[\x20-\x7e]*$/;

function claimValue(claims: AccessTokenClaims, claim: IdentityClaim): string | undefined {
  switch (claim) {
    case 'sub':
      return claims.sub;
    case 'client_id':
      return claims.clientId;
    case 'scope':
      return [...claims.scopes].join(' ');
    case 'legacy_id':
      return claims.legacyId;
    case 'legacy_username':
      return claims.legacyUsername;
  }
}

/** The identity headers for the upstream: a claim the token lacks, or one no header line can carry, sends none. */
function identityHeaders(auth: RouteAuth, claims: AccessTokenClaims): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, claim] of Object.entries(auth.headers)) {
    const value = claimValue(claims, claim);
    if (value !== undefined && value !== '' && HEADER_SAFE.test(value)) out.push([name, value]);
  }
  return out;
}

const refuse = (outcome: 'missing' | 'invalid' | 'insufficient_scope' | 'unavailable', detail?: string): GuardResult => {
  switch (outcome) {
    // RFC 6750 3.1: a request without credentials gets the challenge alone, no error code.
    case 'missing':
      return { ok: false, outcome, status: 401, error: 'unauthorized', headers: { 'www-authenticate': 'Bearer' } };
    case 'invalid':
      return {
        ok: false,
        outcome,
        status: 401,
        error: 'invalid_token',
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        ...(detail ? { detail } : {}),
      };
    case 'insufficient_scope':
      return {
        ok: false,
        outcome,
        status: 403,
        error: 'insufficient_scope',
        headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${detail ?? ''}"` },
      };
    case 'unavailable':
      return { ok: false, outcome, status: 503, error: 'temporarily_unavailable', headers: { 'retry-after': '5' }, ...(detail ? { detail } : {}) };
  }
};

// A cached token's answer per route is the same on every request: built once, while its claims
// are cached (the verifier's cache holds the claims object).
const allowed = new WeakMap<AccessTokenClaims, Map<RouteAuth, GuardResult>>();

function allow(auth: RouteAuth, claims: AccessTokenClaims): GuardResult {
  let byRoute = allowed.get(claims);
  if (!byRoute) allowed.set(claims, (byRoute = new Map()));
  let result = byRoute.get(auth);
  if (!result) {
    const headers = identityHeaders(auth, claims);
    byRoute.set(auth, (result = { ok: true, outcome: 'ok', claims, headers, lines: headers.map(([n, v]) => `${n}: ${v}\r\n`).join('') }));
  }
  return result;
}

/** The answer for a verification: the method's scopes, then the identity headers. */
function decide(auth: RouteAuth, method: string, verified: Verification): GuardResult {
  if (!verified.ok) return refuse(verified.reason, verified.detail);
  const needed = requiredScopes(auth, method);
  for (const scope of needed) if (!verified.claims.scopes.has(scope)) return refuse('insufficient_scope', needed.join(' '));
  return allow(auth, verified.claims);
}

const ANONYMOUS: GuardResult = { ok: true, outcome: 'anonymous', claims: undefined, headers: [], lines: '' };

/** `token`: the request's bearer token (lib/bearer-auth.ts), undefined when it has none. */
export async function checkBearer(auth: RouteAuth, verifier: AccessTokenVerifier, method: string, token: string | undefined): Promise<GuardResult> {
  if (token === undefined) return auth.bearer === 'optional' ? ANONYMOUS : refuse('missing');
  return decide(auth, method, await verifier.verify(token, auth.audience, { introspect: true }));
}

/**
 * checkBearer's answer when it needs no waiting (no token, or one the verifier has cached), for
 * the hot path; undefined when the token must be verified first.
 */
export function checkBearerNow(auth: RouteAuth, verifier: AccessTokenVerifier, method: string, token: string | undefined): GuardResult | undefined {
  if (token === undefined) return auth.bearer === 'optional' ? ANONYMOUS : refuse('missing');
  const verified = verifier.peek(token, auth.audience);
  return verified && decide(auth, method, verified);
}
