import { readFileSync } from 'node:fs';

export interface LegacyVector {
  scheme: string;
  password: string;
  hash: string;
  salt: string | null;
}

/** Hashes real PHP produced, one per scheme and password (copied from the shared fixtures). */
export const legacyVectors: LegacyVector[] = JSON.parse(readFileSync(new URL('../../fixtures/legacy-hashes.json', import.meta.url), 'utf8')) as LegacyVector[];

/**
 * Fixture names that describe a cost variant rather than a format; identifyScheme names the
 * format. Every other fixture name is also the registry's name.
 */
export const IDENTIFIED_AS: Readonly<Record<string, string>> = {
  'crypt-sha512-rounds': 'crypt-sha512',
  'phpass-portable-P-2^15': 'phpass-portable-P',
};

/** A password that differs in the first byte, which every scheme (even DES) reads. */
export const wrongPassword = (password: string): string => (password.startsWith('X') ? 'Y' : 'X') + password.slice(1);

/** Passwords that have tripped up ports before: non-ASCII, beyond bcrypt's 72 bytes, spaces. */
export const trickyPasswords: readonly string[] = [
  'pässwörd ✓ 日本',
  'correct horse battery staple',
  `${'ü'.repeat(40)}-more-than-72-bytes`,
  'p@ss w0rd\twith "quotes" \\ and $dollars$',
  'a',
];
