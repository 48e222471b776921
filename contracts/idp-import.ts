// The idp's bulk-import port: the batch migration (legacy-adapter/etl) hands the idp a batch of
// legacy users as it read and validated them; the idp decides against its own store (the
// never-downgrade rule, login keys already taken), writes, and answers one outcome per row.
// Served by idp/import/route.ts, called by legacy-adapter/etl/idp-import-client.ts.
import { z } from 'zod';
import { internalErrorBody } from './internal-error.ts';

export const IDP_IMPORT_USERS_PATH = '/internal/v1/import/users';
export const IDP_IMPORT_USERS_METHOD = 'POST';

/** At most this many users per request (the ETL's MAX_BATCH_SIZE). */
export const MAX_IMPORT_BATCH = 10_000;

/** The wire codes of the error body `{ error, error_description }`. */
export const IdpImportError = {
  unauthorized: 'unauthorized',
  invalidRequest: 'invalid_request',
  serverError: 'server_error',
} as const;
export type IdpImportErrorCode = (typeof IdpImportError)[keyof typeof IdpImportError];

/** The error body every internal API answers (contracts/internal-error.ts). */
export const idpImportErrorSchema = internalErrorBody;

/** One legacy user as the ETL prepared it: mapped, validated, its hash as the legacy row holds it. */
export const importUserSchema = z.object({
  legacyId: z.string().min(1).max(64),
  username: z.string().nullable(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  active: z.boolean(),
  passwordHash: z.string().min(1),
  passwordSalt: z.string().nullable(),
  passwordScheme: z.string().min(1),
  /** The bare-hex schemes the hash may be (the mapping's), else empty. */
  passwordCandidates: z.array(z.string()),
  passwordEncodings: z.array(z.enum(['utf8', 'latin1'])),
  /** Keyed fingerprint of the legacy hash and salt: tells the idp whether the legacy password changed. */
  legacyFingerprint: z.string().nullable(),
});
export type ImportUser = z.infer<typeof importUserSchema>;

export const importUsersRequestSchema = z.object({
  users: z.array(importUserSchema).max(MAX_IMPORT_BATCH),
  /** Decide and answer, write nothing. */
  dryRun: z.boolean().default(false),
  /** PBKDF2 iterations to wrap cheap legacy hashes with as they are written; 0 stores them as they are. */
  wrapIterations: z.number().int().min(0).max(10_000_000),
  /**
   * Makes a resent batch answer as the first time: `pass` names the import pass, `batch` this
   * batch within it. When the idp's last committed batch of `pass` is `batch`, it answers what it
   * answered then and writes nothing.
   */
  receipt: z.object({ pass: z.string().min(1).max(190), batch: z.string().min(1).max(190) }).optional(),
});
export type ImportUsersRequest = z.input<typeof importUsersRequestSchema>;

/** What the idp did with a row it took. */
export const IMPORT_OUTCOMES = ['inserted', 'updated', 'unchanged', 'already_upgraded'] as const;
/** Why the idp refused a row (the ETL dead-letters it with this reason). */
export const IMPORT_REFUSALS = ['email_taken', 'username_taken', 'write_failed', 'concurrent_change'] as const;
export type ImportRefusal = (typeof IMPORT_REFUSALS)[number];

export const importResultSchema = z.discriminatedUnion('ok', [
  z.object({
    legacyId: z.string(),
    ok: z.literal(true),
    outcome: z.enum(IMPORT_OUTCOMES),
    /** The stored hash is the legacy one wrapped in PBKDF2 by this request. */
    wrapped: z.boolean(),
  }),
  z.object({
    legacyId: z.string(),
    ok: z.literal(false),
    reason: z.enum(IMPORT_REFUSALS),
    /** Safe to show and store: never a hash, salt or password. */
    detail: z.string().nullable(),
  }),
]);
export type ImportResult = z.infer<typeof importResultSchema>;

export const importUsersAnswerSchema = z.object({
  /** One per user of the request, in its order. */
  results: z.array(importResultSchema),
  /** Set when the batch could not be written whole and was written row by row: why (no values). */
  retriedRowByRow: z.string().nullable(),
});
export type ImportUsersAnswer = z.infer<typeof importUsersAnswerSchema>;
