import { randomBytes } from 'node:crypto';

// PHP's own alphabet for session.sid_bits_per_character=5 (what legacy-php runs with: Debian's
// php.ini sets 26 characters of [0-9a-v]). We make 32 of them (160 random bits): the same
// characters, and the 32-128 length legacy-php/README.md asks of ids made outside PHP.
const ALPHABET = '0123456789abcdefghijklmnopqrstuv';
const LENGTH = 32;

/** A fresh random session id; each one is new (a login never reuses an id: no fixation). */
export function newPhpSessionId(): string {
  const bytes = randomBytes((LENGTH * 5) / 8);
  let bits = 0;
  let buffer = 0;
  let id = '';
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id += ALPHABET[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return id;
}

/** What PHP accepts as a session id (any sid_bits_per_character): [A-Za-z0-9,-], 22 to 256 characters. */
export function isPhpSessionId(id: string): boolean {
  return /^[A-Za-z0-9,-]{22,256}$/.test(id);
}
