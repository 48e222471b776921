// The in-process throttle for the embedded mode (one replica). Bounded: expired entries are
// swept when the map grows, and past `maxEntries` the oldest go first.
import {
  freeAttemptsOf,
  isPersonal,
  penaltyFor,
  presentSubjects,
  validatePolicy,
  type LoginThrottle,
  type ThrottlePolicy,
  type ThrottleSubject,
  type ThrottleSubjects,
} from './types.ts';

interface Entry {
  count: number;
  expiresAt: number;
  blockedUntil: number;
}

export interface MemoryThrottleOptions {
  maxEntries?: number;
  now?: () => number;
}

export function createMemoryThrottle(policy: ThrottlePolicy, options: MemoryThrottleOptions = {}): LoginThrottle {
  validatePolicy(policy);
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  const live = (key: string, at: number): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= at) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const makeRoom = (at: number) => {
    if (entries.size < maxEntries) return;
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
    // Still full: drop the oldest-touched (touching re-inserts, so Map order is by last use).
    for (const key of entries.keys()) {
      if (entries.size < maxEntries) break;
      entries.delete(key);
    }
  };

  const count = (key: string, free: number, at: number): number => {
    const entry = live(key, at) ?? { count: 0, expiresAt: 0, blockedUntil: 0 };
    entries.delete(key);
    makeRoom(at);
    entry.count += 1;
    entry.expiresAt = at + policy.windowMs;
    const penalty = penaltyFor(entry.count, free, policy);
    entry.blockedUntil = penalty ? at + penalty : 0;
    entries.set(key, entry);
    return penalty;
  };

  const keysOf = (subjects: ThrottleSubjects): [ThrottleSubject, string][] => presentSubjects(subjects).map(([subject, id]) => [subject, `${subject}:${id}`]);

  const giveBack = (key: string, at: number) => {
    const entry = live(key, at);
    if (entry && entry.count > 0) entry.count -= 1;
  };

  return {
    async attempt(subjects: ThrottleSubjects) {
      const at = now();
      const keys = keysOf(subjects);
      for (const [subject, key] of keys) {
        const entry = live(key, at);
        if (entry && entry.blockedUntil > at) return { allowed: false, retryAfterMs: entry.blockedUntil - at, subject };
      }
      let penaltyMs = 0;
      for (const [subject, key] of keys) penaltyMs = Math.max(penaltyMs, count(key, freeAttemptsOf(subject, policy), at));
      return { allowed: true, penaltyMs };
    },
    async succeeded(subjects: ThrottleSubjects) {
      const at = now();
      for (const [subject, key] of keysOf(subjects)) {
        if (isPersonal(subject)) entries.delete(key);
        else giveBack(key, at);
      }
    },
    async refund(subjects: ThrottleSubjects) {
      const at = now();
      for (const [, key] of keysOf(subjects)) giveBack(key, at);
    },
  };
}
