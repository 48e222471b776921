// Failed-login throttling, one interface for the Redis store (replicas share the counts) and
// the in-process one (embedded mode, one replica).

/** Who an attempt is counted against. Both are already normalised (see subjects.ts). */
export interface ThrottleSubjects {
  account: string;
  address: string;
}

export type ThrottleSubject = keyof ThrottleSubjects;

export type ThrottleDecision =
  /** Go ahead. `penaltyMs` is the wait this attempt has already imposed on the next one; a success lifts it for the account. */
  | { allowed: true; penaltyMs: number }
  /** Refused without checking the password. */
  | { allowed: false; retryAfterMs: number; subject: ThrottleSubject };

export interface LoginThrottle {
  /**
   * Counts an attempt and decides on it in one atomic step, before the password is checked,
   * so parallel guesses cannot all slip in between a check and a count. A refused attempt is
   * not counted.
   */
  attempt(subjects: ThrottleSubjects): Promise<ThrottleDecision>;
  /**
   * The password was right: the account's failures are forgotten, and the address gets back
   * the attempt it was charged (the address's earlier failures stay: a person who owns one
   * account must not be able to wipe the count of their guesses at other accounts).
   */
  succeeded(subjects: ThrottleSubjects): Promise<void>;
}

export interface ThrottlePolicy {
  /** Counts are forgotten this long after the last counted attempt. */
  windowMs: number;
  /** Attempts per account within the window before delays start. */
  accountFreeAttempts: number;
  /** Same per client address; higher, since many people can share one address (NAT). */
  addressFreeAttempts: number;
  /** First delay once the free attempts are used up; it doubles with each further attempt. */
  baseDelayMs: number;
  /** The cap on the delay: past it, one attempt per `maxDelayMs` (the lockout window). */
  maxDelayMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  windowMs: 15 * 60_000,
  accountFreeAttempts: 5,
  addressFreeAttempts: 20,
  baseDelayMs: 1_000,
  maxDelayMs: 15 * 60_000,
};

/** The wait imposed after the `count`-th attempt in a window. */
export function penaltyFor(count: number, freeAttempts: number, policy: ThrottlePolicy): number {
  if (count <= freeAttempts) return 0;
  const exponent = Math.min(count - freeAttempts - 1, 40);
  return Math.min(policy.baseDelayMs * 2 ** exponent, policy.maxDelayMs);
}

export function validatePolicy(policy: ThrottlePolicy): ThrottlePolicy {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isInteger(value) || value < 0) problems.push(`${name} must be a non-negative integer (got ${value})`);
  }
  if (policy.windowMs < policy.maxDelayMs) problems.push('windowMs must be at least maxDelayMs, or counts would expire while a delay still runs');
  if (policy.windowMs === 0) problems.push('windowMs must be positive');
  if (problems.length) throw new Error(`invalid login throttle policy: ${problems.join('; ')}`);
  return policy;
}
