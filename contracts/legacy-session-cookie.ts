// The legacy-adapter's internal API, GET /internal/v1/legacy-sessions/cookie: the monolith's session
// cookie as the mapping's `session.cookie` describes it (with the adapter's LEGACY_SESSION_NAME
// override). The idp reads the monolith's cookie by this name at a legacy-session sign-in, so the
// mapping file is the one place the name is configured. Behind the idp's bearer secret
// (LEGACY_ADAPTER_SECRET), like the rest of the idp's adapter API.
import { z } from 'zod';
import { legacySessionCookieSchema } from '../lib/legacy-session-cookie.ts';

export const LEGACY_SESSION_COOKIE_PATH = '/internal/v1/legacy-sessions/cookie';
export const LEGACY_SESSION_COOKIE_METHOD = 'GET';

/** No request body, no parameters. */
export const legacySessionCookieRequest = z.strictObject({});

export const legacySessionCookieAnswer = z.strictObject({ cookie: legacySessionCookieSchema });
export type LegacySessionCookieAnswer = z.infer<typeof legacySessionCookieAnswer>;

/** 401: no or a wrong bearer secret. An adapter from before this endpoint answers 404 (not_found is not its code). */
export const LEGACY_SESSION_COOKIE_ERRORS = { unauthorized: 'unauthorized' } as const;
