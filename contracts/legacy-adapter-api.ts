// The legacy-adapter's internal API as the idp calls it (bearer LEGACY_ADAPTER_SECRET): check a
// password against the legacy table, look users up, write a changed password back (dual-write),
// and resolve a PHP session to its user. The adapter's routes validate requests with these
// schemas and answer what they declare; the idp's client (idp/adapter-client/) parses answers
// with them. Error bodies are contracts/internal-error.ts's.
import { z } from 'zod';
import type { Endpoint } from './endpoint.ts';
import { legacyImportRecordSchema } from './legacy-import-record.ts';

export const LEGACY_ADAPTER_API_BASE = '/internal/v1';

/** Every error code the API answers; which endpoint answers which is listed with each. */
export const LEGACY_ADAPTER_ERRORS = {
  unauthorized: 'unauthorized',
  invalidRequest: 'invalid_request',
  internalError: 'internal_error',
  /** 503 (Retry-After): the legacy database or session store did not answer in time. */
  legacyUnavailable: 'legacy_unavailable',
  /** 503 (Retry-After): every password hashing thread is busy; nothing was decided. */
  busy: 'busy',
  /** 404: no legacy row with this id (deleted meanwhile); retrying cannot help. */
  legacyUserNotFound: 'legacy_user_not_found',
  /** 409: the mapping has no `write` section, so the legacy table cannot take passwords. */
  mappingCannotWrite: 'mapping_cannot_write',
} as const;

export type LegacyAdapterError = (typeof LEGACY_ADAPTER_ERRORS)[keyof typeof LEGACY_ADAPTER_ERRORS];

const login = z.string().trim().min(1, 'must not be empty').max(320, 'is too long');

/** A legacy user as the adapter describes them: never a hash. */
export const legacyUserProfileSchema = z.object({
  /** The legacy primary key, as text (ids may be integers or strings). */
  legacyId: z.string().min(1),
  username: z.string().nullable(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  active: z.boolean(),
});

export type LegacyUserProfile = z.infer<typeof legacyUserProfileSchema>;

/**
 * POST /authenticate {login, password}: the password checked against the legacy row. Every
 * refusal (unknown login, wrong password, inactive or unreadable row) is one `{ok: false}`.
 * Errors: legacy_unavailable, busy (503).
 */
export const authenticateEndpoint = {
  method: 'POST',
  path: `${LEGACY_ADAPTER_API_BASE}/authenticate`,
  request: z.strictObject({ login, password: z.string().max(4096, 'is too long') }),
  answer: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), user: legacyUserProfileSchema, scheme: z.string(), fingerprint: z.string() }),
    z.object({ ok: z.literal(false) }),
  ]),
  errors: [LEGACY_ADAPTER_ERRORS.legacyUnavailable, LEGACY_ADAPTER_ERRORS.busy],
} as const satisfies Endpoint;

/**
 * POST /users/lookup {login} or {email}: the users by login (username, then e-mail, as the legacy
 * login does) or by e-mail. `withImport: true` adds each user's import record (legacy hash
 * included), absent for a row the migration could not import: the idp's password reset imports
 * a user it does not know yet. Errors: legacy_unavailable (503).
 */
const withImport = z.literal(true).optional();
export const lookupEndpoint = {
  method: 'POST',
  path: `${LEGACY_ADAPTER_API_BASE}/users/lookup`,
  request: z.union([z.strictObject({ login, withImport }), z.strictObject({ email: login, withImport })]),
  answer: z.object({ users: z.array(legacyUserProfileSchema.extend({ import: legacyImportRecordSchema.optional() })) }),
  errors: [LEGACY_ADAPTER_ERRORS.legacyUnavailable],
} as const satisfies Endpoint;

/** PHP's `password_verify` reads it; the only form the adapter writes into the legacy table. */
export const LEGACY_WRITE_HASH = /^\$2y\$(0[4-9]|1[0-5])\$[./A-Za-z0-9]{53}$/;

/**
 * POST /users/password (dual-write): a password changed in the idp, as `$2y$` bcrypt, written to
 * the legacy row once per event and never older over newer. 200 for applied and for the no-ops
 * (duplicate: this event was applied before; stale: a newer one was), so the idp's relay settles
 * the event either way; `fingerprint` is the batch migration's fingerprint of the row as it now
 * stands. Errors: legacy_user_not_found (404), mapping_cannot_write (409), legacy_unavailable (503).
 */
export const passwordWriteEndpoint = {
  method: 'POST',
  path: `${LEGACY_ADAPTER_API_BASE}/users/password`,
  request: z.strictObject({
    eventId: z.uuid(),
    /** The idp outbox sequence: per legacy user, only a higher one is applied. */
    sequence: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    legacyId: z.string().min(1).max(64),
    hash: z.string().regex(LEGACY_WRITE_HASH, 'must be a $2y$ bcrypt hash'),
  }),
  // `result` on the wire (an idp and an adapter of different releases meet during a rolling deploy).
  answer: z.discriminatedUnion('result', [
    z.object({ ok: z.literal(true), result: z.literal('applied'), fingerprint: z.string() }),
    z.object({ ok: z.literal(true), result: z.enum(['duplicate', 'stale']) }),
  ]),
  errors: [LEGACY_ADAPTER_ERRORS.legacyUserNotFound, LEGACY_ADAPTER_ERRORS.mappingCannotWrite, LEGACY_ADAPTER_ERRORS.legacyUnavailable],
} as const satisfies Endpoint;

export type PasswordWrite = z.infer<typeof passwordWriteEndpoint.request>;

/** A password write as both sides handle it in code: what the 200 answer and the 404 say. */
export type PasswordWriteResult =
  | { ok: true; outcome: 'applied'; fingerprint: string }
  | { ok: true; outcome: 'duplicate' | 'stale' }
  | { ok: false; reason: typeof LEGACY_ADAPTER_ERRORS.legacyUserNotFound };

/**
 * POST /legacy-sessions/resolve {sessionId}: which legacy user a PHP session is logged in as, by
 * the monolith's own rules, with their import record; one `{ok: false}` for every refusal (no
 * live session, not logged in, unknown or inactive user, a row the migration cannot import). The
 * id travels in the body, never in the URL: URLs end up in access logs.
 * Errors: legacy_unavailable (503).
 */
export const sessionResolveEndpoint = {
  method: 'POST',
  path: `${LEGACY_ADAPTER_API_BASE}/legacy-sessions/resolve`,
  request: z.strictObject({ sessionId: z.string().max(256) }),
  answer: z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), user: legacyUserProfileSchema, import: legacyImportRecordSchema }),
    z.object({ ok: z.literal(false) }),
  ]),
  errors: [LEGACY_ADAPTER_ERRORS.legacyUnavailable],
} as const satisfies Endpoint;
