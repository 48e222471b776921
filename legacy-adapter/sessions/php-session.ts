import {
  sessionLeafAt,
  type KeySource,
  type PhpType,
  type SessionEntrySpec,
  type SessionKeySpec,
  type SessionMapping,
} from '../mapping-format/session-schema.ts';
import { encodePhpSession, type PhpSessionValue } from './php-serialize.ts';
import { decodePhpSession, PhpSessionFormatError, type PhpValue } from './php-session-decode.ts';

/** How the monolith stores its logged-in state (the mapping's `session` section). */
export type SessionFormat = Pick<SessionMapping, 'serialize_handler' | 'keys' | 'loggedInAs'>;

/** What a session's values come from: the user's mapped fields and any other column of their row. */
export interface SessionUser {
  legacyId: string;
  username?: string | null;
  email?: string | null;
  name?: string | null;
  /** Other columns of the row, by column name (those the mapping's keys read). */
  columns?: Record<string, unknown>;
}

/** A row value the mapping's PHP type cannot hold (a non-numeric id for an int key, a date...). */
export class SessionValueError extends RangeError {
  constructor(key: string, type: PhpType) {
    super(`session key ${key}: the user's value is not a PHP ${type}`);
    this.name = 'SessionValueError';
  }
}

const INT_TEXT = /^-?(0|[1-9][0-9]{0,18})$/;

/** `value` as the PHP type the mapping gives the key (NULL stays null: PHP's N;). */
function toPhp(value: unknown, type: PhpType, key: string): PhpSessionValue {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (type === 'bool') {
    // PHP's own truthiness for what a database column holds.
    if (typeof value === 'boolean') return value;
    if (typeof value === 'number') return value !== 0;
    if (typeof value === 'string') return value !== '' && value !== '0';
  } else if (type === 'int') {
    if (typeof value === 'boolean') return value ? 1 : 0;
    const number =
      typeof value === 'number' ? value : typeof value === 'string' && INT_TEXT.test(value) ? Number(value) : typeof value === 'bigint' ? Number(value) : NaN;
    // PHP ints are 64-bit; a JS number is exact only up to 2^53.
    if (Number.isSafeInteger(number)) return number;
  } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
    return String(value);
  } else if (typeof value === 'boolean') {
    return value ? '1' : ''; // (string) true and (string) false in PHP
  }
  throw new SessionValueError(key, type);
}

/** A map's lookup text: 1, "1" and true are one entry, as YAML keys are text. */
const mapKey = (value: unknown) => (typeof value === 'boolean' ? (value ? '1' : '0') : Buffer.isBuffer(value) ? value.toString('utf8') : String(value));

function rowValue(source: Exclude<KeySource, { value: unknown }>, user: SessionUser): unknown {
  if ('column' in source) return user.columns?.[source.column];
  return source.from === 'id' ? user.legacyId : user[source.from];
}

function entryValue(name: string, spec: SessionEntrySpec, user: SessionUser): PhpSessionValue {
  if (spec.type === 'array') return Object.entries(spec.keys).map(([key, item]) => [key, entryValue(`${name}.${key}`, item, user)] as const);
  return keyValue(name, spec, user);
}

function keyValue(name: string, spec: SessionKeySpec, user: SessionUser): PhpSessionValue {
  if ('value' in spec.source) return toPhp(spec.source.value, spec.type, name);
  const raw = rowValue(spec.source, user);
  const fallback = spec.default ?? null;
  if (spec.map) return toPhp(raw === null || raw === undefined ? fallback : (spec.map[mapKey(raw)] ?? fallback), spec.type, name);
  const value = toPhp(raw ?? fallback, spec.type, name);
  // The legacy id is what the monolith's pages look the user up by: never 0 or negative.
  if ('from' in spec.source && spec.source.from === 'id' && spec.type === 'int' && (typeof value !== 'number' || value <= 0))
    throw new SessionValueError(name, 'int');
  return value;
}

/**
 * The logged-in state as the monolith's login writes it: every key of the mapping, in order, with
 * its PHP type, from the user's row, a constant or a value map, in the format of the monolith's
 * session.serialize_handler. Throws SessionValueError for a value the key's type cannot hold.
 */
export function loggedInSessionData(user: SessionUser, format: SessionFormat): Buffer {
  return encodePhpSession(
    Object.entries(format.keys).map(([name, spec]) => [name, entryValue(name, spec, user)] as const),
    format.serialize_handler,
  );
}

function hasType(value: PhpValue | undefined, type: PhpType): boolean {
  if (type === 'int') return typeof value === 'number' && Number.isSafeInteger(value);
  return type === 'bool' ? typeof value === 'boolean' : typeof value === 'string';
}

/** Who a session is logged in as: the user whose row has `value` in the first decisive key's field or column. */
export interface LoggedInAs {
  by: Exclude<KeySource, { value: unknown }>;
  value: number | string;
}

/**
 * Who a session is logged in as, by the monolith's rule as the mapping states it: every key of
 * `loggedInAs` set with its PHP type (a constant one with its value; an int legacy id positive),
 * the first one naming the user. Anything else, including data the strict decoder refuses, is
 * nobody (undefined). Read only as the monolith's handler writes: under another handler's rules
 * a string value could pass for session variables.
 */
export function loggedInAs(data: Buffer, format: SessionFormat): LoggedInAs | undefined {
  let session: Map<string, PhpValue>;
  try {
    session = decodePhpSession(data, format.serialize_handler);
  } catch (error) {
    if (error instanceof PhpSessionFormatError) return undefined;
    throw error;
  }
  const at = (dotted: string): PhpValue | undefined => {
    const [top, ...rest] = dotted.split('.');
    let value = session.get(top!);
    // Nested keys are plain names, never int-like, so PHP keeps them as string keys.
    for (const key of rest) value = Array.isArray(value) ? value.find(([k]) => k === key)?.[1] : undefined;
    return value;
  };
  for (const name of format.loggedInAs) {
    const spec = sessionLeafAt(format.keys, name)!;
    const value = at(name);
    if (!hasType(value, spec.type)) return undefined;
    if ('value' in spec.source && value !== toPhp(spec.source.value, spec.type, name)) return undefined;
    if ('from' in spec.source && spec.source.from === 'id' && typeof value === 'number' && value <= 0) return undefined;
    if (typeof value === 'string' && value === '' && name === format.loggedInAs[0]) return undefined;
  }
  const first = sessionLeafAt(format.keys, format.loggedInAs[0]!)!;
  if ('value' in first.source) return undefined; // the schema refuses it; never a user from a constant
  return { by: first.source, value: at(format.loggedInAs[0]!) as number | string };
}
