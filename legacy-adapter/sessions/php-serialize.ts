// PHP session data as the monolith's session.serialize_handler writes it, byte for byte:
//   php            `key|<serialize(value)>` pairs with nothing between them: `user_id|i:42;login|s:5:"alice";`
//   php_serialize  serialize($_SESSION): `a:2:{s:7:"user_id";i:42;s:5:"login";s:5:"alice";}`
//   php_binary     per entry a byte with the key's length, the key, then serialize(value)
// Only what a bridged login needs (null, bools, ints, strings and arrays of them); PHP reads it with session_decode().

export const SERIALIZE_HANDLERS = ['php', 'php_serialize', 'php_binary'] as const;
export type SerializeHandler = (typeof SERIALIZE_HANDLERS)[number];

export type PhpSessionValue = null | boolean | number | string | PhpSessionArray;
/** A PHP array, in order. */
export type PhpSessionArray = ReadonlyArray<readonly [string, PhpSessionValue]>;

function serializeInt(value: number): string {
  // PHP ints are 64-bit; a JS number is exact only up to 2^53, so refuse what it cannot say exactly.
  if (!Number.isSafeInteger(value)) throw new RangeError('a PHP session int must be a safe integer');
  return `i:${value};`;
}

// s:<n>: counts bytes, not characters; the quotes are not escaped (the length delimits the string).
const serializeString = (value: string) => `s:${Buffer.byteLength(value, 'utf8')}:"${value}";`;

function serializeValue(value: PhpSessionValue): string {
  if (value === null) return 'N;';
  if (typeof value === 'object') return `a:${value.length}:{${value.map(([key, item]) => serializeKey(key) + serializeValue(item)).join('')}}`;
  if (typeof value === 'boolean') return `b:${value ? 1 : 0};`;
  return typeof value === 'number' ? serializeInt(value) : serializeString(value);
}

// PHP stores a decimal-integer string key ("5", "-3", not "05") within the 64-bit range as an int key.
const INT_KEY = /^(0|-?[1-9][0-9]{0,18})$/;
const isIntKey = (key: string) => INT_KEY.test(key) && BigInt(key) >= -(2n ** 63n) && BigInt(key) < 2n ** 63n;
const serializeKey = (key: string) => (isIntKey(key) ? `i:${key};` : serializeString(key));

/** PHP's PS_BIN_MAX: php_binary cannot write a longer key (PHP skips it). */
const BINARY_MAX_KEY = 127;

function checkKey(key: string, handler: SerializeHandler): void {
  if (key === '') throw new RangeError('a PHP session key must be non-empty');
  // The php handler ends a key at `|` (PHP refuses to write such a name) and once read `!` as
  // "unset"; php_binary counts the key in one byte.
  if (handler === 'php' && /[|!]/.test(key)) throw new RangeError('a php-handler session key must not hold | or !');
  // Both skip an int key ($_SESSION["5"] is $_SESSION[5]); only php_serialize writes it.
  if (handler !== 'php_serialize' && isIntKey(key)) throw new RangeError(`a ${handler}-handler session key must not be an integer`);
  if (handler === 'php_binary' && Buffer.byteLength(key, 'utf8') > BINARY_MAX_KEY) throw new RangeError('a php_binary session key is at most 127 bytes');
}

/**
 * The session data for `entries` as `handler` writes it, as bytes (UTF-8). Keys PHP could not
 * write under that handler are refused (RangeError), never silently dropped as PHP does.
 */
export function encodePhpSession(entries: ReadonlyArray<readonly [string, PhpSessionValue]>, handler: SerializeHandler): Buffer {
  for (const [key] of entries) checkKey(key, handler);
  if (handler === 'php_serialize') {
    return Buffer.from(`a:${entries.length}:{${entries.map(([key, value]) => serializeKey(key) + serializeValue(value)).join('')}}`, 'utf8');
  }
  if (handler === 'php_binary') {
    return Buffer.concat(
      entries.flatMap(([key, value]) => {
        const name = Buffer.from(key, 'utf8');
        return [Buffer.from([name.length]), name, Buffer.from(serializeValue(value), 'utf8')];
      }),
    );
  }
  return Buffer.from(entries.map(([key, value]) => `${key}|${serializeValue(value)}`).join(''), 'utf8');
}
