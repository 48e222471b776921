// Reads PHP session data (what session_encode() writes and the monolith stores) in the format of
// the monolith's session.serialize_handler, and only that one: `php` (`key|<serialize(value)>`
// pairs back to back), `php_serialize` (serialize($_SESSION), one array) or `php_binary` (a
// length byte, the key, serialize(value), back to back). Reading data in another handler's
// format is how a string a user chose becomes session variables, so the handler is never
// guessed. Strict on purpose: it accepts the scalar types and arrays PHP writes, exactly as PHP
// writes them, and throws on anything else (objects, references, enums, bad lengths, trailing
// bytes) instead of guessing, because what it reads decides who is logged in.
import type { SerializeHandler } from './php-serialize.ts';

/** A PHP array, in order, keys as PHP has them (int or string). */
export type PhpArray = Array<readonly [number | string, PhpValue]>;
export type PhpValue = null | boolean | number | string | PhpArray;

export class PhpSessionFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhpSessionFormatError';
  }
}

const MAX_DEPTH = 16;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const INT = /^-?(0|[1-9][0-9]{0,18})$/;
// serialize_precision=-1 output: digits with an optional fraction and exponent; INF/NAN refused.
const FLOAT = /^-?[0-9]+(\.[0-9]+)?(E[+-][0-9]+)?$/;

function fail(message: string): never {
  throw new PhpSessionFormatError(message);
}

class Reader {
  readonly bytes: Buffer;
  pos = 0;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  /** The ASCII text up to (not including) `stop`, which is consumed. */
  until(stop: string, max: number): string {
    const end = this.bytes.indexOf(stop.charCodeAt(0), this.pos);
    if (end < 0 || end - this.pos > max) fail(`expected "${stop}" at byte ${this.pos}`);
    const text = this.bytes.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return text;
  }

  expect(text: string): void {
    if (this.bytes.toString('latin1', this.pos, this.pos + text.length) !== text) fail(`expected "${text}" at byte ${this.pos}`);
    this.pos += text.length;
  }

  int(text: string): number {
    if (!INT.test(text)) fail(`not an integer at byte ${this.pos}`);
    const value = Number(text);
    // PHP ints are 64-bit; past 2^53 a JS number would be a different number: refuse.
    if (!Number.isSafeInteger(value)) fail(`integer out of the exact range at byte ${this.pos}`);
    return value;
  }

  string(length: number): string {
    if (this.pos + length > this.bytes.length) fail('string runs past the end');
    let value: string;
    try {
      value = utf8.decode(this.bytes.subarray(this.pos, this.pos + length));
    } catch {
      fail(`string at byte ${this.pos} is not UTF-8`);
    }
    this.pos += length;
    return value;
  }

  value(depth: number): PhpValue {
    const type = this.bytes.toString('latin1', this.pos, this.pos + 1);
    if (type === 'N') {
      this.expect('N;');
      return null;
    }
    this.pos += 1;
    this.expect(':');
    switch (type) {
      case 'b': {
        const v = this.until(';', 1);
        if (v !== '0' && v !== '1') fail('a bool is b:0; or b:1;');
        return v === '1';
      }
      case 'i':
        return this.int(this.until(';', 20));
      case 'd': {
        const v = this.until(';', 40);
        if (!FLOAT.test(v)) fail('not a finite float');
        return Number(v);
      }
      case 's': {
        const length = this.int(this.until(':', 10));
        if (length < 0) fail('negative string length');
        this.expect('"');
        const value = this.string(length);
        this.expect('";');
        return value;
      }
      case 'a': {
        if (depth >= MAX_DEPTH) fail('arrays nested too deep');
        const count = this.int(this.until(':', 10));
        if (count < 0 || count > this.bytes.length) fail('bad array size');
        this.expect('{');
        const out: PhpArray = [];
        const seen = new Set<string>();
        for (let i = 0; i < count; i++) {
          const key = this.value(depth + 1);
          if (typeof key !== 'string' && !(typeof key === 'number' && Number.isInteger(key))) fail('an array key must be an int or a string');
          const id = `${typeof key}:${key}`;
          if (seen.has(id)) fail('duplicate array key');
          seen.add(id);
          out.push([key, this.value(depth + 1)]);
        }
        this.expect('}');
        return out;
      }
      default:
        // O, C, E (objects, enums), r, R (references) and anything unknown.
        return fail(`unsupported type "${type}"`);
    }
  }
}

/** A top-level key: non-empty valid UTF-8, never twice. */
function addEntry(entries: Map<string, PhpValue>, raw: Buffer, value: () => PhpValue): string {
  let key: string;
  try {
    key = utf8.decode(raw);
  } catch {
    fail('a key is not UTF-8');
  }
  if (key === '') fail('an empty key');
  if (entries.has(key)) fail('duplicate key');
  entries.set(key, value());
  return key;
}

/** `php`: `key|value` back to back; a key ends at the first `|`. */
function decodePhp(data: Buffer): Map<string, PhpValue> {
  const reader = new Reader(data);
  const entries = new Map<string, PhpValue>();
  while (reader.pos < data.length) {
    const keyEnd = data.indexOf(0x7c /* | */, reader.pos);
    if (keyEnd <= reader.pos) fail(`expected a key at byte ${reader.pos}`);
    const raw = data.subarray(reader.pos, keyEnd);
    // `!` marked an unset variable in the php handler of old PHP; PHP itself refuses such names now.
    if (raw.includes(0x21 /* ! */)) fail('unsupported key');
    reader.pos = keyEnd + 1;
    addEntry(entries, raw, () => reader.value(0));
  }
  return entries;
}

/** `php_serialize`: the whole of $_SESSION as one serialized array, and nothing after it. */
function decodePhpSerialize(data: Buffer): Map<string, PhpValue> {
  const entries = new Map<string, PhpValue>();
  if (data.length === 0) return entries;
  const reader = new Reader(data);
  if (data[0] !== 0x61 /* a */) fail('php_serialize data must be one array');
  const session = reader.value(0) as PhpArray;
  if (reader.pos !== data.length) fail(`trailing bytes at byte ${reader.pos}`);
  // PHP keys "5" and 5 are one key, so they are one key here too (the reader refused both at once).
  for (const [key, value] of session) addEntry(entries, Buffer.from(String(key), 'utf8'), () => value);
  return entries;
}

/** PHP's PS_BIN_MAX: a php_binary key is 1 to 127 bytes; the top bit marked an unset variable. */
const BINARY_MAX_KEY = 127;

/** `php_binary`: a length byte, that many key bytes, then the value, back to back. */
function decodePhpBinary(data: Buffer): Map<string, PhpValue> {
  const reader = new Reader(data);
  const entries = new Map<string, PhpValue>();
  while (reader.pos < data.length) {
    const length = data[reader.pos]!;
    if (length === 0 || length > BINARY_MAX_KEY) fail(`bad key length at byte ${reader.pos}`);
    const start = reader.pos + 1;
    if (start + length >= data.length) fail('a key runs past the end');
    reader.pos = start + length;
    addEntry(entries, data.subarray(start, start + length), () => reader.value(0));
  }
  return entries;
}

const decoders: Record<SerializeHandler, (data: Buffer) => Map<string, PhpValue>> = {
  php: decodePhp,
  php_serialize: decodePhpSerialize,
  php_binary: decodePhpBinary,
};

/**
 * Decodes session data written by `handler` into its top-level entries, in order. Throws
 * PhpSessionFormatError on anything that is not exactly what that handler writes for null,
 * bool, int, float, string and array values.
 */
export function decodePhpSession(data: Buffer, handler: SerializeHandler): Map<string, PhpValue> {
  return decoders[handler](data);
}
