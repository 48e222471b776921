// Wrapping at import (issue 15): the cheap legacy hashes a batch is about to write go into the
// store already wrapped in PBKDF2 (lib/passwords, "Wrapped legacy hashes"), so no md5 is ever
// stored, not even for the users who never sign in again. Only what will be written is wrapped:
// a re-run over unchanged users spends no PBKDF2.
import { WEAK_SCHEMES, wrapLegacyHashes } from '../../lib/passwords/index.ts';
import { wrapInputOf, wrappedColumns } from '../../lib/passwords/wrap-record.ts';
import type { NewLegacyUser } from '../users/types.ts';
import type { ImportPlan, PlannedUpdate } from './plan.ts';

/**
 * Wraps the weak hashes of the plan's inserts and of the updates that write a password, one
 * PBKDF2 of `iterations` each, on every core; returns the plan with them replaced and their
 * results marked wrapped. 0: no wrapping.
 */
export async function wrapPlanHashes(plan: ImportPlan, iterations: number): Promise<ImportPlan> {
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
  const wrappedUpdate = new Map<PlannedUpdate, string>();
  updates.forEach((update, i) => {
    const hash = hashes[inserts.length + i];
    if (hash) wrappedUpdate.set(update, hash);
  });
  const wrappedIds = new Set([...[...wrappedInsert.keys()].map((u) => u.legacyId), ...[...wrappedUpdate.keys()].map((u) => u.legacyId)]);
  return {
    inserts: plan.inserts.map((user) => {
      const hash = wrappedInsert.get(user);
      return hash ? { ...user, ...wrappedColumns(hash) } : user;
    }),
    updates: plan.updates.map((update) => {
      const hash = wrappedUpdate.get(update);
      return hash ? { ...update, change: { ...update.change, ...wrappedColumns(hash) } } : update;
    }),
    results: plan.results.map((result) => (result.ok && wrappedIds.has(result.legacyId) ? { ...result, wrapped: true } : result)),
  };
}
