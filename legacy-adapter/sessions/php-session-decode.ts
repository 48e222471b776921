// Reads PHP's `php` session serialize_handler format (what session_encode() writes and the
// monolith stores): `key|<serialize(value)>` pairs back to back. Strict on purpose: it accepts
// the scalar types and arrays PHP writes, exactly as PHP writes them, and throws on anything
// else (objects, references, enums, bad lengths, trailing bytes) instead of guessing, because
// what it reads decides who is logged in.

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

/**
 * Decodes session data into its top-level entries, in order. Throws PhpSessionFormatError on
 * anything that is not exactly what PHP's `php` handler writes for null, bool, int, float,
 * string and array values.
 */
export function decodePhpSession(data: Buffer): Map<string, PhpValue> {
  const reader = new Reader(data);
  const entries = new Map<string, PhpValue>();
  while (reader.pos < data.length) {
    const keyEnd = data.indexOf(0x7c /* | */, reader.pos);
    if (keyEnd <= reader.pos) fail(`expected a key at byte ${reader.pos}`);
    let key: string;
    try {
      key = utf8.decode(data.subarray(reader.pos, keyEnd));
    } catch {
      fail('a key is not UTF-8');
    }
    // `!` marked an unset variable in old PHP; PHP itself refuses such names now.
    if (key.includes('!')) fail('unsupported key');
    if (entries.has(key)) fail('duplicate key');
    reader.pos = keyEnd + 1;
    entries.set(key, reader.value(0));
  }
  return entries;
}
