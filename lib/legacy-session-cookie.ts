// The monolith's session cookie as the legacy-adapter announces it to the gateway (the internal
// contract of POST /internal/v1/sessions and GET /internal/v1/sessions/cookie). The adapter builds
// it from the mapping's `session.cookie`; the gateway sets and clears the cookie with it and never
// reads the mapping. Declared here once, so both sides check the same shape.
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
