import { createHash, hash } from 'node:crypto';
import { permutedB64 } from './crypt-base64.ts';

export const SHA_CRYPT_ROUNDS_DEFAULT = 5000;
export const SHA_CRYPT_ROUNDS_MIN = 1000;
export const SHA_CRYPT_ROUNDS_MAX = 999_999_999;

interface Variant {
  prefix: '$5$' | '$6$';
  algorithm: 'sha256' | 'sha512';
  size: number;
  groups: readonly (readonly [number, number, number])[];
  tail: readonly [number, number, number, number];
}

const SHA256: Variant = {
  prefix: '$5$',
  algorithm: 'sha256',
  size: 32,
  groups: [
    [0, 10, 20],
    [21, 1, 11],
    [12, 22, 2],
    [3, 13, 23],
    [24, 4, 14],
    [15, 25, 5],
    [6, 16, 26],
    [27, 7, 17],
    [18, 28, 8],
    [9, 19, 29],
  ],
  tail: [-1, 31, 30, 3],
};

const SHA512: Variant = {
  prefix: '$6$',
  algorithm: 'sha512',
  size: 64,
  groups: [
    [0, 21, 42],
    [22, 43, 1],
    [44, 2, 23],
    [3, 24, 45],
    [25, 46, 4],
    [47, 5, 26],
    [6, 27, 48],
    [28, 49, 7],
    [50, 8, 29],
    [9, 30, 51],
    [31, 52, 10],
    [53, 11, 32],
    [12, 33, 54],
    [34, 55, 13],
    [56, 14, 35],
    [15, 36, 57],
    [37, 58, 16],
    [59, 17, 38],
    [18, 39, 60],
    [40, 61, 19],
    [62, 20, 41],
  ],
  tail: [-1, -1, 63, 2],
};

export interface ShaCryptSetting {
  variant: '$5$' | '$6$';
  /** null when the setting has no rounds= field, which means 5000 and is not echoed back. */
  rounds: number | null;
  salt: string;
}

/**
 * Reads a "$5$"/"$6$" setting the way PHP's php_sha{256,512}_crypt_r does. Returns null where
 * PHP's crypt() fails with "*0" (rounds= outside 1000..999999999), which can never match.
 */
export function parseShaCryptSetting(setting: string): ShaCryptSetting | null {
  const variant = setting.slice(0, 3);
  if (variant !== '$5$' && variant !== '$6$') return null;
  let rest = setting.slice(3);
  let rounds: number | null = null;
  // Like strtoul followed by a '$' check: "rounds=abc$" is not a rounds field but part of the salt.
  const field = /^rounds=(\d*)\$/.exec(rest);
  if (field) {
    const digits = field[1] ?? '';
    const value = digits.length > 10 ? Infinity : Number(digits);
    if (value < SHA_CRYPT_ROUNDS_MIN || value > SHA_CRYPT_ROUNDS_MAX) return null;
    rounds = value;
    rest = rest.slice(field[0].length);
  }
  const end = rest.indexOf('$');
  return { variant, rounds, salt: rest.slice(0, Math.min(16, end === -1 ? rest.length : end)) };
}

function repeated(source: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += source.length) out.set(source.subarray(0, Math.min(source.length, length - i)), i);
  return out;
}

/**
 * The digest of `source` written `times` times in a row, fed in pieces: the password's step
 * hashes it once per password byte, so building that input first would take length² bytes.
 */
function hashRepeated(algorithm: Variant['algorithm'], source: Uint8Array, times: number): Buffer {
  const ctx = createHash(algorithm);
  for (let i = 0; i < times; i++) ctx.update(source);
  return ctx.digest();
}

/** PHP's crypt() for "$5$" and "$6$" settings (Ulrich Drepper's SHA-crypt specification). */
export function shaCrypt(password: Uint8Array, setting: string): string {
  const parsed = parseShaCryptSetting(setting);
  if (!parsed) throw new RangeError('not a valid sha-crypt setting');
  const v = parsed.variant === '$5$' ? SHA256 : SHA512;
  const rounds = parsed.rounds ?? SHA_CRYPT_ROUNDS_DEFAULT;
  const p = Buffer.from(password);
  const s = Buffer.from(parsed.salt, 'latin1');
  const h = (data: Uint8Array): Buffer => hash(v.algorithm, data, 'buffer');

  const b = h(Buffer.concat([p, s, p]));
  const aParts: Uint8Array[] = [p, s, repeated(b, p.length)];
  for (let n = p.length; n > 0; n >>>= 1) aParts.push(n & 1 ? b : p);
  let c = h(Buffer.concat(aParts));

  const dp = hashRepeated(v.algorithm, p, p.length);
  const pSeq = repeated(dp, p.length);
  const ds = hashRepeated(v.algorithm, s, 16 + (c[0] ?? 0));
  const sSeq = repeated(ds, s.length);

  // One scratch buffer per round instead of a hash object with several update() calls: the
  // round count is the cost, so per-round overhead is what matters.
  const scratch = Buffer.alloc(2 * pSeq.length + sSeq.length + v.size);
  for (let i = 0; i < rounds; i++) {
    let at = 0;
    at += (i & 1 ? pSeq : c).copy(scratch, at);
    if (i % 3) at += sSeq.copy(scratch, at);
    if (i % 7) at += pSeq.copy(scratch, at);
    at += (i & 1 ? c : pSeq).copy(scratch, at);
    c = h(scratch.subarray(0, at));
  }

  const roundsField = parsed.rounds === null ? '' : `rounds=${parsed.rounds}$`;
  return `${v.prefix}${roundsField}${parsed.salt}$${permutedB64(c, v.groups, v.tail)}`;
}
