// Wrapping at import (issue 15): the cheap legacy hashes a batch is about to write go into the
// idp's store already wrapped in PBKDF2 (lib/passwords, "Wrapped legacy hashes"), so no md5 is
// ever stored there, not even for the users who never sign in again.
import type { NewLegacyUser } from '../../idp/users/types.ts';
import { WEAK_SCHEMES, WRAPPED_SCHEME, wrapLegacyHashes, type WrapInput } from '../../lib/passwords/index.ts';
import type { BatchPlan } from './plan.ts';

/** The wrap input of a user as the legacy row asks for it. */
export function wrapInputOf(user: Pick<NewLegacyUser, 'passwordHash' | 'passwordScheme' | 'passwordCandidates' | 'passwordSalt'>): WrapInput {
  return { hash: user.passwordHash, scheme: user.passwordScheme, candidates: user.passwordCandidates ?? [], hasSalt: user.passwordSalt != null };
}

/** The password columns of a wrapped hash: the string names its candidates itself; salt and encodings stay. */
export function wrappedColumns(hash: string): Pick<NewLegacyUser, 'passwordHash' | 'passwordScheme' | 'passwordCandidates'> {
  return { passwordHash: hash, passwordScheme: WRAPPED_SCHEME, passwordCandidates: [] };
}

/**
 * Wraps the weak hashes of the plan's inserts and of the updates that write a password, one
 * PBKDF2 of `iterations` each, on every core; returns the plan with them replaced (the prepared
 * rows are left as read: a batch retried row by row plans again from them). 0: no wrapping.
 */
export async function wrapPlanHashes(plan: BatchPlan, iterations: number): Promise<BatchPlan> {
  if (iterations === 0) return plan;
  const inserts = plan.inserts.filter((u) => WEAK_SCHEMES.includes(u.passwordScheme));
  const updates = plan.updates.filter((u) => u.change.passwordHash != null && WEAK_SCHEMES.includes(u.wanted.passwordScheme));
  if (inserts.length + updates.length === 0) return plan;
  const hashes = await wrapLegacyHashes([...inserts.map(wrapInputOf), ...updates.map((u) => wrapInputOf(u.wanted))], iterations);
  const wrappedInsert = new Map<NewLegacyUser, string>();
  inserts.forEach((user, i) => {
    const hash = hashes[i];
    if (hash) wrappedInsert.set(user, hash);
  });
  const wrappedUpdate = new Map(updates.flatMap((u, i) => {
    const hash = hashes[inserts.length + i];
    return hash ? [[u, hash] as const] : [];
  }));
  return {
    ...plan,
    inserts: plan.inserts.map((user) => {
      const hash = wrappedInsert.get(user);
      return hash ? { ...user, ...wrappedColumns(hash) } : user;
    }),
    updates: plan.updates.map((update) => {
      const hash = wrappedUpdate.get(update);
      return hash ? { ...update, change: { ...update.change, ...wrappedColumns(hash) } } : update;
    }),
    counts: { ...plan.counts, wrapped: plan.counts.wrapped + wrappedInsert.size + wrappedUpdate.size },
  };
}

/**
 * One import record wrapped as a batch would wrap it: the records the adapter hands the idp for a
 * just-in-time import (a PHP session accepted at cutover, a password reset's lookup) must not
 * bring a weak hash into the idp's store either. 0: as it is.
 */
export async function wrapImportRecord<U extends Pick<NewLegacyUser, 'passwordHash' | 'passwordScheme' | 'passwordCandidates' | 'passwordSalt'>>(user: U, iterations: number): Promise<U> {
  if (iterations === 0 || !WEAK_SCHEMES.includes(user.passwordScheme)) return user;
  const [hash] = await wrapLegacyHashes([wrapInputOf(user)], iterations);
  return hash ? { ...user, ...wrappedColumns(hash) } : user;
}
