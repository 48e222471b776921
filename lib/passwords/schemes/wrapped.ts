// A cheap legacy hash wrapped in PBKDF2 without the password (OWASP's advice for legacy hashes):
// PBKDF2-HMAC-SHA256 over the legacy function's output, so a copied md5 never sits in the idp's
// store as md5. Verifying recomputes the legacy output first, then the PBKDF2; a login replaces
// it with a plain PBKDF2 hash (pbkdf2NeedsRehash is true for it, as for every non-PBKDF2 hash).
//
//   $wrapped-pbkdf2-sha256$i=<iterations>,l=<key bytes>$<salt>$<key>$<inner>[,s=<setting>]
//
// <inner> names the legacy scheme; for a bare hex digest, every candidate of its length that
// the row could use, joined by '+' (the digest alone cannot say which one made it, and all of
// them yield the same text). <setting> is the part of the legacy hash that recomputes it (the
// salt and cost of crypt() and phpass, never the digest), in base64; a salted digest's salt stays
// in the row's salt column, as it did unwrapped.
import { randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../bytes.ts';
import { UnverifiableHashError } from '../errors.ts';
import { DEFAULT_COST_LIMITS } from '../limits.ts';
import type { PasswordScheme, SchemeVerifyContext } from '../types.ts';
import { libuvGate } from '../workers/gate.ts';
import { fromB64, pbkdf2Async, toB64 } from './pbkdf2.ts';

export const WRAPPED_SCHEME = 'wrapped-pbkdf2-sha256';
const PREFIX = `$${WRAPPED_SCHEME}$`;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const SHAPE =
  /^\$wrapped-pbkdf2-sha256\$i=([1-9]\d{0,9}),l=([1-9]\d{0,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)\$([^$,+]+(?:\+[^$,+]+)*)(?:,s=([A-Za-z0-9+/]+))?$/;

/** What the stored hash is and how the idp recorded it: enough to wrap it without the password. */
export interface WrapInput {
  hash: string;
  /** The registry scheme the hash was identified as. */
  scheme: string;
  /** For a bare hex digest: the mapping's candidates (default: the scheme alone). */
  candidates?: readonly string[];
  /** Whether the row has a salt column value (salted digest candidates need one). */
  hasSalt?: boolean;
}

export interface ParsedWrapped {
  iterations: number;
  salt: Buffer;
  key: Buffer;
  inner: PasswordScheme[];
  setting: string;
}

const derive = (output: string, salt: Buffer, iterations: number, keyLength: number): Promise<Buffer> =>
  // Legacy outputs are ASCII (hex, crypt's base64), so latin1 is their bytes exactly.
  libuvGate.run(() => pbkdf2Async(Buffer.from(output, 'latin1'), salt, iterations, keyLength, 'sha256'));

/** Iterations a wrapping may use: at least 1,000 (below that it adds too little) and at most 10,000,000. */
export function checkWrapIterations(iterations: number): number {
  if (!Number.isInteger(iterations) || iterations < 1000 || iterations > 10_000_000)
    throw new RangeError('wrap iterations must be an integer from 1000 to 10000000');
  return iterations;
}

/**
 * The wrapped scheme over the schemes that offer wrapping (`inner`, from the registry), so that
 * this module needs no import of the registry.
 */
export function createWrappedScheme(wrappable: readonly PasswordScheme[]) {
  const byName = new Map(wrappable.map((s) => [s.name, s]));

  function parse(hash: string): ParsedWrapped | null {
    const match = SHAPE.exec(hash);
    if (!match) return null;
    const [, iterations = '', keyLength = '', salt = '', key = '', names = '', setting] = match;
    const saltBytes = fromB64(salt);
    const keyBytes = fromB64(key);
    const settingBytes = setting === undefined ? Buffer.alloc(0) : fromB64(setting);
    if (!saltBytes || !keyBytes || !settingBytes || keyBytes.length !== Number(keyLength)) return null;
    const inner = names.split('+').map((n) => byName.get(n));
    if (inner.some((s) => s === undefined)) return null;
    const text = settingBytes.toString('latin1');
    const schemes = inner as PasswordScheme[];
    if (!schemes.every((s) => s.wrapping?.validSetting(text))) return null;
    // A digest's candidates share their length; a crypt() setting belongs to exactly one scheme.
    if (schemes.length > 1 && schemes.some((s) => s.kind !== 'bare-hex')) return null;
    return { iterations: Number(iterations), salt: saltBytes, key: keyBytes, inner: schemes, setting: text };
  }

  /** The legacy schemes a stored hash would be wrapped over, or null when it is not one to wrap. */
  function innerOf(input: WrapInput): { inner: PasswordScheme[]; setting: string } | null {
    const scheme = byName.get(input.scheme);
    const setting = scheme?.wrapping?.settingOf(input.hash);
    if (!scheme || setting == null) return null;
    if (scheme.kind !== 'bare-hex') return { inner: [scheme], setting };
    const names = input.candidates?.length ? input.candidates : [scheme.name];
    const inner = names
      .map((n) => byName.get(n))
      .filter((s): s is PasswordScheme => s !== undefined && s.kind === 'bare-hex' && s.identify(input.hash) && (!s.salted || input.hasSalt === true));
    return inner.length ? { inner, setting } : null;
  }

  /**
   * The wrapped form of a stored legacy hash, or null when its scheme is not a cheap one (or the
   * hash does not have its shape). Costs one PBKDF2 on libuv's pool, through its gate.
   */
  async function wrap(input: WrapInput, iterations: number): Promise<string | null> {
    checkWrapIterations(iterations);
    const found = innerOf(input);
    const first = found?.inner[0];
    if (!found || !first?.wrapping) return null;
    const salt = randomBytes(SALT_LENGTH);
    const key = await derive(first.wrapping.canonical(input.hash), salt, iterations, KEY_LENGTH);
    const names = found.inner.map((s) => s.name).join('+');
    const setting = found.setting === '' ? '' : `,s=${toB64(Buffer.from(found.setting, 'latin1'))}`;
    return `${PREFIX}i=${iterations},l=${KEY_LENGTH}$${toB64(salt)}$${toB64(key)}$${names}${setting}`;
  }

  const scheme: PasswordScheme = {
    name: WRAPPED_SCHEME,
    kind: 'self-describing',
    // The salt column is read only when a salted digest is wrapped; without it those candidates are skipped.
    salted: false,
    identify: (hash) => hash.startsWith(PREFIX),
    async verify(password, hash, context: SchemeVerifyContext = {}) {
      const parsed = parse(hash);
      if (!parsed) throw new UnverifiableHashError('malformed', WRAPPED_SCHEME, 'not a wrapped-pbkdf2-sha256 string this registry can read');
      const limit = (context.limits ?? DEFAULT_COST_LIMITS).pbkdf2Iterations;
      if (parsed.iterations > limit) throw new UnverifiableHashError('cost-limit', WRAPPED_SCHEME, `i=${parsed.iterations} exceeds the limit of ${limit}`);
      const usable = parsed.inner.filter((s) => !s.salted || context.salt != null);
      if (usable.length === 0) throw new UnverifiableHashError('missing-salt', WRAPPED_SCHEME, 'the row has no salt');
      for (const inner of usable) {
        const output = await inner.wrapping?.compute(password, parsed.setting, context);
        if (output === undefined) continue;
        const key = await derive(output, parsed.salt, parsed.iterations, parsed.key.length);
        if (constantTimeEqual(key, parsed.key)) return true;
      }
      return false;
    },
  };

  return { scheme, wrap, canWrap: (input: WrapInput) => innerOf(input) !== null, parse };
}
