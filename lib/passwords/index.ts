/**
 * The password-scheme registry: verifies every legacy PHP hash format, writes new hashes as
 * PHC pbkdf2-sha256, and says when a stored hash should be upgraded. See README.md.
 */
import { DEFAULT_PBKDF2_POLICY, dummyPbkdf2, hashPbkdf2, pbkdf2NeedsRehash } from './schemes/pbkdf2.ts';
import type { Pbkdf2Policy } from './types.ts';

export type { CostLimits, HashingScheme, PasswordEncoding, PasswordScheme, Pbkdf2Policy, SchemeVerifyContext } from './types.ts';
export { PasswordWorkersBusyError, UnverifiableHashError, type UnverifiableCode } from './errors.ts';
export { DEFAULT_COST_LIMITS, DEFAULT_WORKER_QUEUE_DEPTH, MAX_PASSWORD_BYTES } from './limits.ts';
export { BARE_HEX_SCHEMES, PASSWORD_SCHEMES, WEAK_SCHEMES, SCHEME_NAMES, getScheme, identifyScheme } from './registry.ts';
export { DEFAULT_PBKDF2_POLICY, pbkdf2Scheme } from './schemes/pbkdf2.ts';
export { hashPhpBcrypt, PHP_BCRYPT_DEFAULT_COST } from './schemes/bcrypt.ts';
export { verifyPassword, type StoredPassword, type VerifyFailureReason, type VerifyOptions, type VerifyResult } from './verify.ts';
export { checkWrapIterations, DEFAULT_WRAP_ITERATIONS, wrapLegacyHash, wrapLegacyHashes, WRAPPED_SCHEME, type WrapInput } from './wrap.ts';
export { closePasswordWorkers, configurePasswordWorkers } from './workers/pool.ts';

/** A new PHC `$pbkdf2-sha256$i=…,l=…$salt$key` hash of the UTF-8 password. */
export function hashPassword(password: string, policy: Pbkdf2Policy = DEFAULT_PBKDF2_POLICY): Promise<string> {
  return hashPbkdf2(password, policy);
}

/** True for every legacy scheme and for PBKDF2 below the policy (fewer iterations, other key length, shorter salt). */
export function needsRehash(hash: string, policy: Pbkdf2Policy = DEFAULT_PBKDF2_POLICY): boolean {
  return pbkdf2NeedsRehash(hash, policy);
}

/** Spends what verifying a policy-strength hash costs; call it when the account does not exist. */
export function dummyVerify(policy: Pbkdf2Policy = DEFAULT_PBKDF2_POLICY): Promise<void> {
  return dummyPbkdf2(policy);
}
