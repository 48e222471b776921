// What a sign-in vouched for only by a PHP session may yield (docs/DESIGN.md, "The session
// bridge" and its decisions): no refresh token, and nothing that outlives the PHP session's lifetime
// (IDP_TTL_LEGACY_SESSION) counted from the sign-in.
import { LEGACY_SESSION_AMR } from '../interactions/legacy-session.ts';

/** How a token's sign-in happened: the `amr` and the sign-in time (epoch seconds). */
interface SignIn {
  amr?: unknown;
  authTime?: unknown;
}

type Entities = Record<string, (SignIn & { loginTs?: unknown }) | undefined>;
interface Context {
  oidc?: { entities?: Entities };
}

const byLegacySession = (amr: unknown) => Array.isArray(amr) && amr.includes(LEGACY_SESSION_AMR);

/**
 * The sign-in a token is issued from: the token itself when it carries one (refresh tokens, ID
 * tokens), else what this request loaded: the code, the refresh token, or the browser session.
 */
function signInOf(ctx: unknown, token: unknown): SignIn | undefined {
  const own = token as (SignIn & { available?: { amr?: unknown; auth_time?: unknown } }) | undefined;
  if (own?.amr !== undefined) return own;
  if (own?.available?.amr !== undefined) return { amr: own.available.amr, authTime: own.available.auth_time };
  const entities = (ctx as Context | undefined)?.oidc?.entities;
  if (!entities) return undefined;
  for (const name of ['RefreshToken', 'RotatedRefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']) {
    const entity = entities[name];
    if (entity?.amr !== undefined) return entity;
  }
  const session = entities.Session;
  return session?.amr !== undefined ? { amr: session.amr, authTime: session.loginTs } : undefined;
}

/** Whether the token at hand comes from a sign-in only a PHP session vouched for. */
export function vouchedByLegacySession(ctx: unknown, token: unknown): boolean {
  return byLegacySession(signInOf(ctx, token)?.amr);
}

/**
 * `seconds`, or less for a legacy-session sign-in: never past sign-in + `legacyTtl` (and never
 * below 1, which oidc-provider requires; such a token is dead on arrival). A sign-in without a
 * known time counts from now.
 */
export function capToLegacySession(seconds: number, ctx: unknown, token: unknown, legacyTtl: number, now = Math.floor(Date.now() / 1000)): number {
  const signIn = signInOf(ctx, token);
  if (!byLegacySession(signIn?.amr)) return seconds;
  const at = typeof signIn?.authTime === 'number' ? signIn.authTime : now;
  return Math.max(1, Math.min(seconds, at + legacyTtl - now));
}
