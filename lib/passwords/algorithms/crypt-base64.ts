/** The crypt(3) alphabet, shared by DES, md5-crypt, sha-crypt, phpass and Drupal 7. */
export const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** crypt(3)'s b64_from_24bit: n characters of a 24-bit word, least significant six bits first. */
export function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

/**
 * Encodes digest bytes through a permutation table, as md5-crypt and sha-crypt do: each triple
 * names the bytes that go into one 24-bit group (b2, b1, b0); the final group is shorter.
 */
export function permutedB64(
  digest: Uint8Array,
  groups: readonly (readonly [number, number, number])[],
  tail: readonly [number, number, number, number],
): string {
  const at = (i: number): number => (i < 0 ? 0 : (digest[i] ?? 0));
  let out = '';
  for (const [b2, b1, b0] of groups) out += b64From24(at(b2), at(b1), at(b0), 4);
  return out + b64From24(at(tail[0]), at(tail[1]), at(tail[2]), tail[3]);
}

/** phpass's encode64: consecutive bytes, little-endian groups, partial groups shortened. */
export function phpassB64(input: Uint8Array): string {
  let out = '';
  for (let i = 0; i < input.length; i += 3) {
    const left = input.length - i;
    const b0 = input[i] ?? 0;
    const b1 = left > 1 ? (input[i + 1] ?? 0) : 0;
    const b2 = left > 2 ? (input[i + 2] ?? 0) : 0;
    out += b64From24(b2, b1, b0, left >= 3 ? 4 : left + 1);
  }
  return out;
}
