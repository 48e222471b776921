// The mapping's `session` section: how the monolith keeps its PHP sessions (store, serializer,
// cookie, session ids) and what a logged-in session holds. Documented in
// legacy-adapter/mappings/README.md; hosts and secrets (Redis) stay in the environment.
import { z } from 'zod';
import { cookieDomain, cookiePath, phpSessionName } from '../../contracts/legacy-session-cookie.ts';
import { SERIALIZE_HANDLERS } from '../sessions/php-serialize.ts';
import { identifier, tableName } from './identifiers.ts';

// A $_SESSION key every serialize handler writes as is: no `|` or `!` (php), not an int (php,
// php_binary skip those), at most 127 bytes (php_binary).
const sessionKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain name (letters, digits and _, not starting with a digit)');

const tableStore = z.strictObject({
  type: z.literal('table'),
  table: tableName.default('sessions'),
  columns: z.strictObject({ id: identifier.default('id'), data: identifier.default('data'), timestamp: identifier.default('last_access') }).prefault({}),
  /** How the handler stores the last access: unix seconds (an INT) or a DATETIME in UTC. */
  timestamp: z.enum(['unix', 'datetime']).default('unix'),
});

const phpredisStore = z.strictObject({
  type: z.literal('phpredis'),
  /** phpredis's `prefix` save_path option. */
  prefix: z.string().max(128).default('PHPREDIS_SESSION:'),
  /** Seconds; default the session lifetime (phpredis uses session.gc_maxlifetime). */
  ttl: z.number().int().min(60).max(31_536_000).optional(),
});

/** session.save_path: an absolute directory (PHP's "N;MODE;/path" subdirectory form is not supported). */
export const savePath = z.string().regex(/^\/[^;]*$/, 'must be an absolute directory path (the "N;/path" form is not supported)');

const filesStore = z.strictObject({ type: z.literal('files'), save_path: savePath });

export const sessionStoreSchema = z.discriminatedUnion('type', [tableStore, phpredisStore, filesStore]);
export type SessionStoreSettings = z.output<typeof sessionStoreSchema>;

const cookie = z
  .strictObject({
    name: phpSessionName.default('PHPSESSID'),
    path: cookiePath.default('/'),
    domain: cookieDomain.optional(),
    /** true: always Secure; false: Secure whenever the request came over https. */
    secure: z.boolean().default(false),
    httponly: z.boolean().default(true),
    samesite: z.enum(['Lax', 'Strict', 'None']).default('Lax'),
    /** session.cookie_lifetime: seconds, 0 for a browser-session cookie. */
    lifetime: z.number().int().min(0).max(31_536_000).default(0),
  })
  .refine((c) => c.samesite !== 'None' || c.secure, { message: 'samesite None needs secure: true (browsers drop it otherwise)' });

// session.sid_length and session.sid_bits_per_character: ids we make have this shape, so the
// monolith's use_strict_mode (and any id check of its own) accepts them.
const sid = z.strictObject({
  length: z.number().int().min(22).max(256).default(32),
  bits_per_character: z.union([z.literal(4), z.literal(5), z.literal(6)]).default(5),
});

export const PHP_TYPES = ['int', 'string', 'bool'] as const;
export type PhpType = (typeof PHP_TYPES)[number];
const scalar = z.union([z.string(), z.number(), z.boolean()]);
/** Fields of the user's row by their role in `columns` (id is the legacy id). */
export const ROW_FIELDS = ['id', 'username', 'email', 'name'] as const;
export type RowField = (typeof ROW_FIELDS)[number];

const phpTypeOf = (value: string | number | boolean): PhpType | undefined =>
  typeof value === 'boolean' ? 'bool' : typeof value === 'string' ? 'string' : Number.isSafeInteger(value) ? 'int' : undefined;

export type KeySource = { from: RowField } | { column: string } | { value: string | number | boolean };

export interface SessionKeySpec {
  type: PhpType;
  source: KeySource;
  /** Value map applied to the source's value (compared as text: 1 and "1" are one key). */
  map?: Record<string, string | number | boolean>;
  /** The value when the map has no entry (or the column is NULL); absent: PHP null. */
  default?: string | number | boolean;
}

const keySpec = z
  .strictObject({
    type: z.enum(PHP_TYPES).optional(),
    from: z.enum(ROW_FIELDS).optional(),
    column: identifier.optional(),
    value: scalar.optional(),
    map: z.record(z.string(), scalar).optional(),
    default: scalar.optional(),
  })
  .superRefine((spec, ctx) => {
    const sources = [spec.from, spec.column, spec.value].filter((s) => s !== undefined).length;
    if (sources !== 1) ctx.addIssue({ code: 'custom', message: 'needs exactly one source: from (id, username, email, name), column or value' });
    if (spec.value !== undefined && (spec.map || spec.default !== undefined))
      ctx.addIssue({ code: 'custom', message: 'a constant (value) takes no map or default' });
    const given = [spec.value, spec.default, ...Object.values(spec.map ?? {})].filter((v) => v !== undefined);
    const types = new Set(given.map(phpTypeOf));
    if (types.has(undefined)) ctx.addIssue({ code: 'custom', message: 'values must be strings, booleans or safe integers' });
    if (spec.type === undefined && types.size > 1) ctx.addIssue({ code: 'custom', message: 'values of different PHP types: say which with type' });
  })
  .transform((spec): SessionKeySpec => {
    const source: KeySource = spec.from !== undefined ? { from: spec.from } : spec.column !== undefined ? { column: spec.column } : { value: spec.value! };
    const given = [spec.value, spec.default, ...Object.values(spec.map ?? {})].filter((v) => v !== undefined);
    const inferred = given.length ? phpTypeOf(given[0]!) : spec.from === 'id' ? 'int' : 'string';
    return {
      type: spec.type ?? inferred ?? 'string',
      source,
      ...(spec.map ? { map: spec.map } : {}),
      ...(spec.default !== undefined ? { default: spec.default } : {}),
    };
  });

/** A PHP array of keys (`$_SESSION['member'] = ['id' => …, 'name' => …]`). */
export interface SessionArraySpec {
  type: 'array';
  keys: Record<string, SessionEntrySpec>;
}
export type SessionEntrySpec = SessionKeySpec | SessionArraySpec;

const MAX_NESTING = 4;

/**
 * One entry: `type: array` with `keys` of its own, else a scalar key. Chosen from the shape and
 * parsed apart, so a mistake is reported where it is rather than as "matches no option".
 */
function entrySpec(depth: number): z.ZodType<SessionEntrySpec> {
  return z.unknown().transform((value, ctx): SessionEntrySpec => {
    const isArray = typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'array';
    const schema = isArray ? arraySpec(depth) : keySpec;
    const parsed = (schema as z.ZodType<SessionEntrySpec>).safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
}

function arraySpec(depth: number) {
  return z.strictObject({
    type: z.literal('array'),
    keys: z
      .record(sessionKey, depth >= MAX_NESTING ? z.never({ error: `arrays nest at most ${MAX_NESTING} deep` }) : entrySpec(depth + 1))
      .refine((keys) => Object.keys(keys).length > 0, { message: 'needs at least one key' }),
  });
}

/** Every scalar key, with its path from $_SESSION (`['member', 'id']`). */
export function sessionLeaves(keys: Record<string, SessionEntrySpec>, prefix: string[] = []): Array<{ path: string[]; spec: SessionKeySpec }> {
  return Object.entries(keys).flatMap(([name, spec]) =>
    spec.type === 'array' ? sessionLeaves(spec.keys, [...prefix, name]) : [{ path: [...prefix, name], spec }],
  );
}

/** The scalar key at a dotted path (`member.id`), or undefined. */
export function sessionLeafAt(keys: Record<string, SessionEntrySpec>, dotted: string): SessionKeySpec | undefined {
  let spec: SessionEntrySpec | undefined = { type: 'array', keys };
  for (const name of dotted.split('.')) spec = spec?.type === 'array' ? spec.keys[name] : undefined;
  return spec?.type === 'array' ? undefined : spec;
}

// The first format (before keys were a list): the user id (an int) and login (a string) keys.
const legacyKeys = z
  .strictObject({ userId: sessionKey.default('user_id'), login: sessionKey.default('login') })
  .refine((k) => k.userId !== k.login, { message: 'userId and login must be different keys' })
  .transform((k) => ({
    keys: { [k.userId]: { type: 'int', source: { from: 'id' } }, [k.login]: { type: 'string', source: { from: 'username' } } } as Record<
      string,
      SessionKeySpec
    >,
    loggedInAs: [k.userId, k.login],
  }));

const keyList = z.record(sessionKey, entrySpec(1)).refine((keys) => Object.keys(keys).length > 0, { message: 'needs at least one key' });

/**
 * Key lists a mapping spelled out (not the first format's defaults): only those must name mapped
 * columns, so a mapping from before session keys existed, such as one without a username column,
 * still loads.
 */
export const explicitKeyLists = new WeakSet<Record<string, SessionEntrySpec>>();

export const sessionSchema = z
  .strictObject({
    /**
     * PHP's session.serialize_handler of the monolith (its php.ini name, copied as is): how
     * $_SESSION is turned into the stored bytes. Sessions are read and written in this format
     * only; reading one format as another lets a user's string pass for session variables.
     */
    serialize_handler: z.enum(SERIALIZE_HANDLERS).default('php'),
    /** Where the monolith keeps sessions; absent: the LEGACY_SESSION_* variables (default a `sessions` table). */
    store: sessionStoreSchema.optional(),
    /** session.gc_maxlifetime: idle seconds before a session is dead; absent: LEGACY_SESSION_LIFETIME. */
    lifetime: z.number().int().min(60).max(31_536_000).optional(),
    cookie: cookie.prefault({}),
    sid: sid.prefault({}),
    /**
     * What the monolith's login puts in $_SESSION, in order: each key's PHP type and source. The
     * first format (`{userId, login}`) still reads as the two keys it named.
     */
    keys: z.unknown().optional(),
    /**
     * The keys that make a session "logged in as" someone (a nested one as `member.id`): all must
     * be there with their type; the first one's source (a field or column of the user's row)
     * finds the user.
     */
    loggedInAs: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62}){0,3}$/, 'must be a key name, nested ones with dots (member.id)'))
      .min(1)
      .optional(),
  })
  .transform(({ keys, loggedInAs, ...rest }, ctx) => {
    // The first format's values are plain key names; the list's are objects. Parsed apart, so a
    // mistake is reported where it is, not as "matches neither format".
    const firstFormat = keys === undefined || (typeof keys === 'object' && keys !== null && Object.values(keys).every((v) => typeof v === 'string'));
    const parsed = firstFormat ? legacyKeys.safeParse(keys ?? {}) : keyList.safeParse(keys);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: ['keys', ...issue.path] });
      return z.NEVER;
    }
    const list: { keys: Record<string, SessionEntrySpec>; loggedInAs?: string[] } = firstFormat
      ? (parsed.data as { keys: Record<string, SessionKeySpec>; loggedInAs: string[] })
      : { keys: parsed.data as Record<string, SessionEntrySpec> };
    if (!firstFormat) explicitKeyLists.add(list.keys);
    const fromId = ({ spec }: { spec: SessionKeySpec }) => 'from' in spec.source && spec.source.from === 'id';
    const decisive =
      loggedInAs ??
      list.loggedInAs ??
      sessionLeaves(list.keys)
        .filter(fromId)
        .map(({ path }) => path.join('.'));
    const problems: string[] = [];
    if (decisive.length === 0) problems.push('name the keys that decide who is logged in (no key has from: id)');
    for (const name of decisive)
      if (!sessionLeafAt(list.keys, name)) problems.push(`${name} is not one of the keys (a nested one is named with dots: member.id)`);
    const first = sessionLeafAt(list.keys, decisive[0] ?? '');
    if (first && 'value' in first.source) problems.push("the first key must come from the user's row (from or column), it finds the user");
    if (first?.map) problems.push('the first key must not be a value map, it finds the user');
    for (const message of problems) ctx.addIssue({ code: 'custom', message, path: ['loggedInAs'] });
    return { ...rest, keys: list.keys, loggedInAs: decisive };
  });

/** The mapping's `session` section, validated (see legacy-adapter/mappings/README.md). */
export type SessionMapping = z.output<typeof sessionSchema>;
