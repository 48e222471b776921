// The error body every internal API answers with, as OAuth 2.0 answers its errors (RFC 6749
// §5.2): a short code a client branches on, and a sentence for the person reading a log. Never
// a `message`: one field name everywhere, so a client reads every API's errors the same way.
import { z } from 'zod';

export const internalErrorBody = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

export type InternalErrorBody<Code extends string = string> = { error: Code; error_description?: string };

/** The codes every internal API may answer, whatever its own. */
export const COMMON_ERRORS = {
  /** The bearer secret is missing or wrong (401). */
  unauthorized: 'unauthorized',
  /** The body or a path parameter does not match the request schema (400, 413, 415). */
  invalidRequest: 'invalid_request',
  /** An unexpected failure on the server (500): the server's log says what. */
  internalError: 'internal_error',
} as const;

/**
 * The error code of an answer, when it is one of `codes`; undefined for any other body (a proxy's
 * error page, an older server), so a client never branches on text it does not know.
 */
export function errorCodeOf<const Code extends string>(body: unknown, codes: readonly Code[]): Code | undefined {
  const parsed = internalErrorBody.safeParse(body);
  return parsed.success && (codes as readonly string[]).includes(parsed.data.error) ? (parsed.data.error as Code) : undefined;
}

/** A 400's description from a zod error: field names and rules only, never a value (it may be a password). */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
}
