export type UnverifiableCode =
  /** No scheme claims the hash (unknown prefix, garbage, bare hex without a matching candidate). */
  | 'unrecognised'
  /** The scheme is known but the hash does not parse the way PHP would accept it. */
  | 'malformed'
  /** The stored work factor is above the configured limit. */
  | 'cost-limit'
  /** A salted bare-hex candidate applies but the row has no salt. */
  | 'missing-salt'
  /** PHP would compute something the bundled implementation cannot reproduce. */
  | 'unsupported';

/**
 * A stored hash that cannot be checked at all, as opposed to a wrong password. Callers count
 * and log these (never with the hash or password) and fail that login cleanly.
 */
export class UnverifiableHashError extends Error {
  readonly code: UnverifiableCode;
  readonly scheme: string | null;

  constructor(code: UnverifiableCode, scheme: string | null, message: string) {
    super(scheme ? `${scheme}: ${message}` : message);
    this.name = 'UnverifiableHashError';
    this.code = code;
    this.scheme = scheme;
  }
}

/**
 * Every password worker thread is busy and the queue is at its configured depth. Operational,
 * like a database outage: callers answer "busy, try again" (HTTP 503), never "wrong password".
 */
export class PasswordWorkersBusyError extends Error {
  readonly code = 'password-workers-busy';
  readonly maxQueue: number;

  constructor(maxQueue: number) {
    super(`all password worker threads are busy and ${maxQueue} jobs already wait`);
    this.name = 'PasswordWorkersBusyError';
    this.maxQueue = maxQueue;
  }
}
