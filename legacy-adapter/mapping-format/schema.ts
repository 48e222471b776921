import { z } from 'zod';
import { BARE_HEX_SCHEMES } from '../../lib/passwords/index.ts';
import { identifier, tableName } from './identifiers.ts';
import { explicitKeyLists, sessionLeaves, sessionSchema } from './session-schema.ts';

const databaseUrl = z
  .string()
  .regex(/^(sqlite:|mysql:\/\/|mariadb:\/\/)/, 'must start with sqlite:, mysql:// or mariadb://')
  .refine((url) => {
    if (url.startsWith('sqlite:')) return true;
    try {
      return new URL(url.replace(/^mariadb:/, 'mysql:')).password === '';
    } catch {
      return false;
    }
  }, 'must not carry a password (mapping files end up in git); set LEGACY_DATABASE_URL instead');

const activeRule = z.union([
  z.strictObject({
    column: identifier,
    /** The row is active when the column holds one of these (compared as strings: 1 and "1" are the same). */
    activeValues: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1),
  }),
  z.strictObject({
    column: identifier,
    /** The row is active when the column IS NULL (a `deleted_at` or `banned_at` column). */
    activeWhenNull: z.literal(true),
  }),
]);

const encoding = z.enum(['utf8', 'latin1']);

export const mappingSchema = z
  .strictObject({
    /** Bumped if the file format ever changes incompatibly. */
    version: z.literal(1),
    database: z.strictObject({ url: databaseUrl.optional() }).optional(),
    table: tableName,
    columns: z.strictObject({
      id: identifier,
      username: identifier.optional(),
      email: identifier.optional(),
      hash: identifier,
      salt: identifier.optional(),
      name: identifier.optional(),
    }),
    active: activeRule.optional(),
    /**
     * A DATETIME/TIMESTAMP column (UTC) the legacy site sets whenever the row changes: the batch
     * migration's delta mode (`--changed-since`) reads only rows changed since a given time.
     */
    updatedAt: identifier.optional(),
    passwords: z
      .strictObject({
        /** Bare hex digest schemes, tried in this order for a hash without a prefix. */
        hexCandidates: z
          .array(z.string().refine((name) => BARE_HEX_SCHEMES.includes(name), { message: `must be one of: ${BARE_HEX_SCHEMES.join(', ')}` }))
          .default([]),
        /** How the legacy site turned passwords into bytes; several are tried in order. */
        encodings: z.union([encoding.transform((e) => [e]), z.array(encoding).min(1)]).default(['utf8']),
        /**
         * 'empty': code like PHP's `md5($salt . $pw)` treated a NULL salt as '', so salted
         * candidates also apply to rows without a salt. 'absent': salted candidates are skipped.
         */
        nullSalt: z.enum(['empty', 'absent']).default('absent'),
      })
      .prefault({}),
    /**
     * What the dual-write may write to the legacy table (absent: nothing; the adapter answers
     * `mapping_cannot_write`). A password is always written as `$2y$` bcrypt, which PHP's
     * `password_verify` accepts; `updatedAt`, when mapped, is set to the time of the write (UTC).
     */
    write: z
      .strictObject({
        password: z.strictObject({
          /** The column the new hash goes to; default columns.hash. */
          column: identifier.optional(),
          /** Columns set to NULL with it: a salt, anything the old scheme needed. */
          clear: z.array(identifier).default([]),
          /** Columns set to a constant with it: e.g. a scheme marker the legacy code reads. */
          set: z.record(identifier, z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
        }),
        /**
         * The adapter's own table in the legacy database: per legacy user, the last event applied
         * (so a replay or an older event is a no-op). Created at the first write if missing.
         */
        ledgerTable: tableName.default('idm_legacy_password_writes'),
      })
      .optional(),
    /** The monolith's PHP sessions, which the session bridge writes and a legacy-session sign-in reads (session-schema.ts). */
    session: sessionSchema.prefault({}),
    lookup: z
      .strictObject({
        /**
         * 'collation': the columns already compare case-insensitively (MySQL *_ci, SQLite
         * NOCASE), so plain `=` keeps the indexes. 'lower': compare LOWER(column) = lower(input).
         */
        caseInsensitive: z.enum(['collation', 'lower']).default('lower'),
      })
      .prefault({}),
  })
  .refine((m) => m.columns.username !== undefined || m.columns.email !== undefined, {
    message: 'needs at least one of columns.username and columns.email (what users log in with)',
    path: ['columns'],
  })
  .refine(
    (m) =>
      !m.write ||
      ![...m.write.password.clear, ...Object.keys(m.write.password.set)].some((c) => c === m.columns.id || c === (m.write?.password.column ?? m.columns.hash)),
    {
      message: 'must not clear or set the id or the password column',
      path: ['write', 'password'],
    },
  )
  .refine((m) => m.passwords.hexCandidates.every((name) => !name.includes('salt') || m.columns.salt !== undefined), {
    message: 'salted hexCandidates need columns.salt',
    path: ['passwords', 'hexCandidates'],
  })
  .superRefine((m, ctx) => {
    // A key read from a mapped field needs that field mapped (check-mapping reports it for the defaults).
    if (!explicitKeyLists.has(m.session.keys)) return;
    for (const { path, spec } of sessionLeaves(m.session.keys)) {
      const source = spec.source;
      if ('from' in source && source.from !== 'id' && m.columns[source.from] === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `from: ${source.from} needs columns.${source.from}`,
          path: ['session', 'keys', ...path.flatMap((name, i) => (i ? ['keys', name] : [name]))],
        });
      }
    }
  });

/** A validated legacy schema mapping (see legacy-adapter/mappings/README.md). */
export type LegacyMapping = z.output<typeof mappingSchema>;
