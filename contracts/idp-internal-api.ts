// The idp's internal API: what the gateway asks it (bearer IDP_INTERNAL_SECRET) and what an
// operator's tool asks it (bearer IDP_ADMIN_TOKEN). The idp's routes validate with these schemas;
// the gateway's shadow mode and session bridge, and the sessions command, parse with them.
import { z } from 'zod';
import type { Endpoint } from './endpoint.ts';

export const IDP_INTERNAL_API_BASE = '/internal/v1';

export const IDP_INTERNAL_ERRORS = {
  unauthorized: 'unauthorized',
  invalidRequest: 'invalid_request',
  internalError: 'internal_error',
  /** 404: no such user, an inactive one, or one without a legacy account. */
  notFound: 'not_found',
  /** 503 (Retry-After): the legacy-adapter is down or the password workers are busy; nothing was decided. */
  temporarilyUnavailable: 'temporarily_unavailable',
} as const;

/**
 * POST {login, password} -> {ok}: the gateway's shadow mode asks whether the new stack would have
 * accepted a login the monolith just served. A dry run: nothing is upgraded, imported or written.
 * Errors: temporarily_unavailable (503).
 */
export const loginCheckEndpoint = {
  method: 'POST',
  path: `${IDP_INTERNAL_API_BASE}/login-check`,
  request: z.strictObject({ login: z.string().max(320), password: z.string().max(4096) }),
  answer: z.object({ ok: z.boolean() }),
  errors: [IDP_INTERNAL_ERRORS.temporarilyUnavailable],
} as const satisfies Endpoint;

/**
 * GET -> {legacyId}: which legacy account an idp user (an ID token's `sub`) is, for the gateway's
 * session bridge. The legacy id never travels in a token a browser holds. Errors: not_found (404).
 */
export const legacyIdentityEndpoint = {
  method: 'GET',
  path: `${IDP_INTERNAL_API_BASE}/users/:sub/legacy-identity`,
  answer: z.object({ legacyId: z.string().min(1) }),
  errors: [IDP_INTERNAL_ERRORS.notFound],
} as const satisfies Endpoint;

/**
 * POST -> {grants, sessions}: an operator signs an account out everywhere (bearer IDP_ADMIN_TOKEN,
 * which the gateway does not hold); every client signed in through the ended sessions hears of it
 * by back-channel logout.
 */
export const endSessionsEndpoint = {
  method: 'POST',
  path: `${IDP_INTERNAL_API_BASE}/users/:sub/sessions/end`,
  answer: z.object({ grants: z.number().int().nonnegative(), sessions: z.number().int().nonnegative() }),
  errors: [],
} as const satisfies Endpoint;
