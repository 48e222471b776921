// The session bridge's internal API on the legacy-adapter, as the gateway calls it (bearer
// LEGACY_SESSION_BRIDGE_SECRET, not the idp's LEGACY_ADAPTER_SECRET, which also verifies
// passwords): after an OpenID Connect sign-in the gateway logs the user in on the monolith by
// writing a PHP session, and out again. The adapter's router (legacy-adapter/sessions/routes.ts)
// validates with these schemas; the gateway's client (gateway/signin/bridge.ts) parses with them.
// Session ids are never logged by either side.
import { z } from 'zod';
import type { Endpoint } from './endpoint.ts';
import { legacySessionCookieSchema } from './legacy-session-cookie.ts';

export const SESSION_BRIDGE_BASE = '/internal/v1/sessions';

export const SESSION_BRIDGE_ERRORS = {
  unauthorized: 'unauthorized',
  invalidRequest: 'invalid_request',
  internalError: 'internal_error',
  /** 404: no such legacy user, or an inactive one (the monolith would log them straight out). */
  userNotFound: 'user_not_found',
  /** 500: the mapping gives a session key a type this user's value cannot have: a mapping to fix. */
  sessionMappingMismatch: 'session_mapping_mismatch',
  /** 503 (Retry-After): the legacy database or session store did not answer. */
  legacyUnavailable: 'legacy_unavailable',
} as const;

// An adapter of an earlier release announces no cookie (or one this release cannot read) during
// a rolling deploy: the gateway then falls back to LEGACY_SESSION_NAME, so it is not an error.
const announcedCookie = legacySessionCookieSchema.optional().catch(undefined);

/** POST {legacyId} or {login} -> 201 a fresh PHP session, logged in as that user, and the cookie that carries it. */
export const createSessionEndpoint = {
  method: 'POST',
  path: SESSION_BRIDGE_BASE,
  request: z.union([
    z.strictObject({ legacyId: z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a positive integer') }),
    z.strictObject({ login: z.string().trim().min(1, 'must not be empty').max(320, 'is too long') }),
  ]),
  answer: z.object({ sessionId: z.string().min(1), lifetimeSeconds: z.number().int().nonnegative(), cookie: announcedCookie }),
  errors: [SESSION_BRIDGE_ERRORS.userNotFound, SESSION_BRIDGE_ERRORS.sessionMappingMismatch, SESSION_BRIDGE_ERRORS.legacyUnavailable],
} as const satisfies Endpoint;

/** GET -> 200 {cookie}: the monolith's session cookie, for the gateway to read it and clear it. */
export const sessionCookieEndpoint = {
  method: 'GET',
  path: `${SESSION_BRIDGE_BASE}/cookie`,
  answer: z.object({ cookie: announcedCookie }),
  errors: [],
} as const satisfies Endpoint;

/** DELETE -> 204, whether or not the session existed; 400 for an id PHP could not have made. */
export const deleteSessionEndpoint = {
  method: 'DELETE',
  path: `${SESSION_BRIDGE_BASE}/:id`,
  errors: [SESSION_BRIDGE_ERRORS.legacyUnavailable],
} as const satisfies Endpoint;
