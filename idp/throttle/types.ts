// Failed-login throttling, one interface for the Redis store (replicas share the counts) and
// the in-process one (embedded mode, one replica).

/**
 * Who an attempt is counted against; each one present is counted, each one absent is not.
 * Already normalised and hashed (see subjects.ts).
 */
export interface ThrottleSubjects {
  /** The identifier as typed (folded, so spellings the legacy collation equates are one). */
  account?: string;
  /** The account the login resolved to, however it was typed (username, e-mail, accents). */
  user?: string;
  /** An IPv4 address, or an IPv6 /64. */
  address?: string;
  /** An IPv6 /48: one site rotating through its /64s (IPv4 has none). */
  network?: string;
}

export type ThrottleSubject = keyof ThrottleSubjects;

/** The order subjects are decided in (a refusal by a later one gives back the earlier ones' counts). */
const SUBJECT_ORDER: readonly ThrottleSubject[] = ['address', 'network', 'account', 'user'];

/** The subjects an attempt names, in decision order, with their ids. */
export function presentSubjects(subjects: ThrottleSubjects): [ThrottleSubject, string][] {
  const present: [ThrottleSubject, string][] = [];
  for (const subject of SUBJECT_ORDER) {
    const id = subjects[subject];
    if (id !== undefined) present.push([subject, id]);
  }
  return present;
}

/** Counted per person (typed or resolved) or per client, each with its own free attempts. */
export function freeAttemptsOf(subject: ThrottleSubject, policy: ThrottlePolicy): number {
  if (subject === 'address') return policy.addressFreeAttempts;
  if (subject === 'network') return policy.networkFreeAttempts;
  return policy.accountFreeAttempts;
}

/** Per person: a success forgets their failures. Per client: a success gives back only its own attempt. */
export const isPersonal = (subject: ThrottleSubject): boolean => subject === 'account' || subject === 'user';

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
  /**
   * Nothing was decided (a service the check needs was down): every subject gets back the
   * attempt it was charged, so an outage never counts as a failed login.
   */
  refund(subjects: ThrottleSubjects): Promise<void>;
}

export interface ThrottlePolicy {
  /** Counts are forgotten this long after the last counted attempt. */
  windowMs: number;
  /** Attempts per account within the window before delays start. */
  accountFreeAttempts: number;
  /** Same per client address; higher, since many people can share one address (NAT). */
  addressFreeAttempts: number;
  /** Same per IPv6 /48, higher still: a whole site's /64s, which one host could rotate through. */
  networkFreeAttempts: number;
  /** First delay once the free attempts are used up; it doubles with each further attempt. */
  baseDelayMs: number;
  /** The cap on the delay: past it, one attempt per `maxDelayMs` (the lockout window). */
  maxDelayMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  windowMs: 15 * 60_000,
  accountFreeAttempts: 5,
  addressFreeAttempts: 20,
  networkFreeAttempts: 100,
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
