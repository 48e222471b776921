import type { LegacySessionCookie } from '../../contracts/legacy-session-cookie.ts';

const EXPIRED = '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT';

/**
 * A Set-Cookie for the monolith's session cookie with the attributes its PHP sets (the mapping's
 * `session.cookie`, announced by the legacy-adapter): the same path and domain, so PHP's own
 * logout and ours replace or clear this very cookie. Secure when the mapping says so or the
 * request came over https; `value` undefined clears it.
 */
export function legacySessionCookie(cookie: LegacySessionCookie, value: string | undefined, https: boolean): string {
  let header = `${cookie.name}=${value ?? ''}; Path=${cookie.path}`;
  if (cookie.domain) header += `; Domain=${cookie.domain}`;
  if (cookie.httpOnly) header += '; HttpOnly';
  header += `; SameSite=${cookie.sameSite}`;
  if (cookie.secure || https) header += '; Secure';
  if (value === undefined) header += EXPIRED;
  else if (cookie.maxAge > 0) header += `; Max-Age=${cookie.maxAge}`;
  return header;
}

/** The fallback cookie (LEGACY_SESSION_NAME) when the legacy-adapter announces none: what the gateway always set before. */
export const fallbackLegacyCookie = (name: string): LegacySessionCookie => ({ name, path: '/', secure: false, httpOnly: true, sameSite: 'Lax', maxAge: 0 });
