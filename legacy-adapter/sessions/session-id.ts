import { randomBytes } from 'node:crypto';

// PHP's own alphabet (ext/session's hexconvtab): session.sid_bits_per_character takes the first
// 16 (4 bits), 32 (5 bits) or all 64 (6 bits) characters.
const PHP_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,-';

/** The monolith's session.sid_length and session.sid_bits_per_character (the mapping's `session.sid`). */
export interface SessionIdShape {
  length: number;
  bits_per_character: 4 | 5 | 6;
}

/** The sample monolith's: 32 characters of [0-9a-v], 160 random bits. */
export const DEFAULT_SESSION_ID_SHAPE: SessionIdShape = { length: 32, bits_per_character: 5 };

/**
 * A fresh random session id of the monolith's length and alphabet, as PHP itself makes them, so
 * its use_strict_mode and any id check of its own accept it; each one is new (a login never
 * reuses an id: no fixation).
 */
export function newPhpSessionId(shape: SessionIdShape = DEFAULT_SESSION_ID_SHAPE): string {
  const bitsPer = shape.bits_per_character;
  const mask = (1 << bitsPer) - 1;
  const bytes = randomBytes(Math.ceil((shape.length * bitsPer) / 8));
  let bits = 0;
  let buffer = 0;
  let id = '';
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= bitsPer && id.length < shape.length) {
      bits -= bitsPer;
      id += PHP_ALPHABET[(buffer >> bits) & mask];
    }
  }
  return id;
}

/** What PHP accepts as a session id (any sid_bits_per_character): [A-Za-z0-9,-], 22 to 256 characters. */
export function isPhpSessionId(id: string): boolean {
  return /^[A-Za-z0-9,-]{22,256}$/.test(id);
}
