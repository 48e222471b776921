// The monolith's session cookie, as the legacy-adapter announces it from the mapping's
// `session.cookie` (with its LEGACY_SESSION_NAME override): the gateway sets and clears the cookie
// with it (POST /internal/v1/sessions, GET /internal/v1/sessions/cookie: contracts/session-bridge-api.ts),
// and the idp reads the cookie by its name at a legacy-session sign-in (GET
// /internal/v1/legacy-sessions/cookie, below, behind LEGACY_ADAPTER_SECRET like the rest of the
// idp's adapter API). Neither reads the mapping: the mapping file is the one place it is configured.
import { z } from 'zod';

/** A PHP session name: what session_name() accepts and a cookie name may hold. */
export const phpSessionName = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'letters, digits and _ (a PHP session name)');

/** session.cookie_path: an absolute path a Set-Cookie can carry. */
export const cookiePath = z.string().regex(/^\/[\x21-\x3a\x3c-\x7e]*$/, 'must be an absolute path without ; or spaces');
/** session.cookie_domain */
export const cookieDomain = z.string().regex(/^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'must be a domain name');

export const legacySessionCookieSchema = z.strictObject({
  /** session.name */
  name: phpSessionName,
  /** session.cookie_path */
  path: cookiePath,
  /** session.cookie_domain; absent: a host-only cookie */
  domain: cookieDomain.optional(),
  /** session.cookie_secure: true always sets Secure; false sets it when the request came over https. */
  secure: z.boolean(),
  /** session.cookie_httponly */
  httpOnly: z.boolean(),
  /** session.cookie_samesite */
  sameSite: z.enum(['Lax', 'Strict', 'None']),
  /** session.cookie_lifetime in seconds; 0: a browser-session cookie */
  maxAge: z.number().int().min(0),
});

export type LegacySessionCookie = z.infer<typeof legacySessionCookieSchema>;

export const LEGACY_SESSION_COOKIE_PATH = '/internal/v1/legacy-sessions/cookie';
export const LEGACY_SESSION_COOKIE_METHOD = 'GET';

/** No request body, no parameters. */
export const legacySessionCookieRequest = z.strictObject({});

export const legacySessionCookieAnswer = z.strictObject({ cookie: legacySessionCookieSchema });
export type LegacySessionCookieAnswer = z.infer<typeof legacySessionCookieAnswer>;

/** 401: no or a wrong bearer secret. An adapter from before this endpoint answers 404 (not_found is not its code). */
export const LEGACY_SESSION_COOKIE_ERRORS = { unauthorized: 'unauthorized' } as const;
