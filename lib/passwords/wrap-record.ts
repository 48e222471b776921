// A user record's password columns and their wrapped form (issue 15): the batch import
// (idp/import/wrap.ts), the idp's wrap pass and the adapter's just-in-time import records all
// wrap cheap legacy hashes the same way, so none brings a weak hash into the idp's store.
import { WEAK_SCHEMES } from './registry.ts';
import { WRAPPED_SCHEME, wrapLegacyHashes, type WrapInput } from './wrap.ts';

/** The password columns of a user record, as the idp stores them. */
export interface PasswordColumns {
  passwordHash: string;
  passwordScheme: string;
  passwordCandidates?: readonly string[];
  passwordSalt?: string | null;
}

/** The wrap input of a user's password columns. */
export function wrapInputOf(user: PasswordColumns): WrapInput {
  return { hash: user.passwordHash, scheme: user.passwordScheme, candidates: user.passwordCandidates ?? [], hasSalt: user.passwordSalt != null };
}

/** The password columns of a wrapped hash: the string names its candidates itself; salt and encodings stay. */
export function wrappedColumns(hash: string): { passwordHash: string; passwordScheme: string; passwordCandidates: string[] } {
  return { passwordHash: hash, passwordScheme: WRAPPED_SCHEME, passwordCandidates: [] };
}

/**
 * One record wrapped as a batch would wrap it: the records the adapter hands the idp for a
 * just-in-time import (a PHP session accepted at cutover, a password reset's lookup) must not
 * bring a weak hash into the idp's store either. 0: as it is.
 */
export async function wrapImportRecord<U extends PasswordColumns>(user: U, iterations: number): Promise<U> {
  if (iterations === 0 || !WEAK_SCHEMES.includes(user.passwordScheme)) return user;
  const [hash] = await wrapLegacyHashes([wrapInputOf(user)], iterations);
  return hash ? { ...user, ...wrappedColumns(hash) } : user;
}
