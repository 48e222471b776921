import type { PasswordScheme } from './types.ts';
import { argon2Schemes } from './schemes/argon2.ts';
import { bcryptSchemes } from './schemes/bcrypt.ts';
import { desCryptScheme, md5CryptScheme, sha256CryptScheme, sha512CryptScheme } from './schemes/crypt.ts';
import { hexSchemes } from './schemes/hex.ts';
import { pbkdf2Scheme } from './schemes/pbkdf2.ts';
import { drupal7Scheme, phpassHScheme, phpassPScheme } from './schemes/phpass.ts';
import { createWrappedScheme } from './schemes/wrapped.ts';

const legacySchemes: readonly PasswordScheme[] = [
  ...argon2Schemes,
  ...bcryptSchemes,
  sha512CryptScheme,
  sha256CryptScheme,
  md5CryptScheme,
  phpassPScheme,
  phpassHScheme,
  drupal7Scheme,
  desCryptScheme,
  ...hexSchemes,
];

/**
 * The cheap legacy schemes (digests, DES and md5 crypt, phpass): the ones whose hashes are
 * wrapped in PBKDF2 at import, and which count as weak until they are.
 */
export const WEAK_SCHEMES: readonly string[] = Object.freeze(legacySchemes.filter((s) => s.wrapping).map((s) => s.name));

export const wrapped = createWrappedScheme(legacySchemes.filter((s) => s.wrapping));

/** Every scheme, self-describing ones first; each prefix is claimed by exactly one of them. */
export const PASSWORD_SCHEMES: readonly PasswordScheme[] = Object.freeze([pbkdf2Scheme, wrapped.scheme, ...legacySchemes]);

const byName = new Map(PASSWORD_SCHEMES.map((scheme) => [scheme.name, scheme]));

export const SCHEME_NAMES: readonly string[] = Object.freeze(PASSWORD_SCHEMES.map((s) => s.name));

/** The names a legacy schema mapping may list as candidates for bare hex digests. */
export const BARE_HEX_SCHEMES: readonly string[] = Object.freeze(PASSWORD_SCHEMES.filter((s) => s.kind === 'bare-hex').map((s) => s.name));

export function getScheme(name: string): PasswordScheme | undefined {
  return byName.get(name);
}

/**
 * The candidate list is configuration, so a wrong name is a bug to surface at once (RangeError),
 * not a password failure to count.
 */
export function resolveCandidates(candidates: readonly string[] = []): PasswordScheme[] {
  return candidates.map((name) => {
    const scheme = byName.get(name);
    if (!scheme || scheme.kind !== 'bare-hex') {
      throw new RangeError(`unknown bare-hex candidate scheme ${JSON.stringify(name)}; expected one of ${BARE_HEX_SCHEMES.join(', ')}`);
    }
    return scheme;
  });
}

/** The scheme a self-describing hash names by its prefix or shape. */
export function selfDescribingScheme(hash: string): PasswordScheme | undefined {
  return PASSWORD_SCHEMES.find((scheme) => scheme.kind === 'self-describing' && scheme.identify(hash));
}

/** Bare hex candidates whose digest length fits the hash, in the configured order. */
export function matchingCandidates(hash: string, candidates: readonly PasswordScheme[]): PasswordScheme[] {
  return candidates.filter((scheme) => scheme.identify(hash));
}

/**
 * Which scheme a stored hash belongs to: the self-describing scheme its prefix names, else the
 * first bare-hex candidate of the right length, else null.
 */
export function identifyScheme(hash: string, candidates?: readonly string[]): string | null {
  const scheme = selfDescribingScheme(hash) ?? matchingCandidates(hash, resolveCandidates(candidates))[0];
  return scheme?.name ?? null;
}
