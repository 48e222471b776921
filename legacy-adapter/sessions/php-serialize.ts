// PHP's `php` session serialize_handler, the format the monolith's $_SESSION is stored in:
// `key|<serialize(value)>` pairs with nothing between them, e.g. `user_id|i:42;login|s:5:"alice";`.
// Only what a bridged login needs (ints and strings); PHP reads it with session_decode().

export type PhpSessionValue = number | string;

function serializeValue(value: PhpSessionValue): string {
  if (typeof value === 'number') {
    // PHP ints are 64-bit; a JS number is exact only up to 2^53, so refuse what it cannot say exactly.
    if (!Number.isSafeInteger(value)) throw new RangeError('a PHP session int must be a safe integer');
    return `i:${value};`;
  }
  // s:<n>: counts bytes, not characters; the quotes are not escaped (the length delimits the string).
  return `s:${Buffer.byteLength(value, 'utf8')}:"${value}";`;
}

/**
 * The session data for `entries`, as bytes (UTF-8). Keys must not hold `|` or `!`: the php
 * handler cannot decode such names (PHP itself refuses to store them).
 */
export function encodePhpSession(entries: ReadonlyArray<readonly [string, PhpSessionValue]>): Buffer {
  let out = '';
  for (const [key, value] of entries) {
    if (key === '' || /[|!]/.test(key)) throw new RangeError('a PHP session key must be non-empty, without | or !');
    out += `${key}|${serializeValue(value)}`;
  }
  return Buffer.from(out, 'utf8');
}
