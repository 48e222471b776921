import { timingSafeEqual } from 'node:crypto';
import type { PasswordEncoding } from './types.ts';

/**
 * The bytes PHP would have hashed for this password, or null when the encoding cannot represent
 * it (a Latin-1 page could never have submitted "日本", so there is nothing to try).
 */
export function encodePassword(password: string, encoding: PasswordEncoding): Buffer | null {
  if (encoding === 'utf8') return Buffer.from(password, 'utf8');
  for (let i = 0; i < password.length; i++) {
    if (password.charCodeAt(i) > 0xff) return null;
  }
  return Buffer.from(password, 'latin1');
}

/** PHP's crypt() hands the password to C code, which stops at the first NUL byte. */
export function cString(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  return nul === -1 ? bytes : bytes.subarray(0, nul);
}

/**
 * Constant-time equality. A length mismatch still does one full comparison so that the
 * early return does not stand out more than a content mismatch would.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Compares a computed crypt()-style string with the stored one (utf8 so that no character can alias another). */
export function constantTimeEqualStrings(computed: string, stored: string): boolean {
  return constantTimeEqual(Buffer.from(computed, 'utf8'), Buffer.from(stored, 'utf8'));
}
