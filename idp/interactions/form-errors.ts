// What a form body parser's error means for the answer. body-parser tags its errors with a
// status: 400 (malformed), 413 (too large), 415 (a charset or encoding it cannot decode).
// Anything else is not the client's form and stays a server error.

/** The status to answer a form that could not be read with, or undefined when `error` is not such a failure. */
export function unreadableFormStatus(error: unknown): 400 | 415 | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  if (status === 400 || status === 413) return 400;
  if (status === 415) return 415;
  return undefined;
}
