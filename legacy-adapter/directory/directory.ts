import { performance } from 'node:perf_hooks';
import { queryWithin, type Knex } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import { verifyPassword, type VerifyResult } from '../../lib/passwords/index.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import type { AdapterMetrics } from '../metrics.ts';
import { createDummyVerifier } from './dummy-verify.ts';
import { legacyFingerprint } from './fingerprint.ts';
import type { PasswordWrite, PasswordWriteResult } from '../../contracts/legacy-adapter-api.ts';
import { createLegacyPasswordWriter } from './password-writer.ts';
import { LegacyUnavailableError } from './unavailable.ts';

/** What the legacy table says about a user; never the hash. */
export interface LegacyProfile {
  /** The legacy primary key, as text (ids may be integers or strings). */
  legacyId: string;
  username: string | null;
  email: string | null;
  name: string | null;
  active: boolean;
}

/** A legacy row as read through the mapping: the profile plus what verifying needs. */
export interface LegacyRow extends LegacyProfile {
  hash: string | null;
  salt: string | null;
}

export type AuthFailure = 'empty_password' | 'not_found' | 'wrong_password' | 'inactive' | 'unreadable_hash';

export type AuthResult = { ok: true; user: LegacyProfile; scheme: string; fingerprint: string } | { ok: false; reason: AuthFailure };

/** How long a directory call waits for the legacy database unless told otherwise (LEGACY_DATABASE_TIMEOUT_MS). */
export const DEFAULT_LEGACY_DATABASE_TIMEOUT_MS = 2_000;

export interface LegacyDirectoryOptions {
  mapping: LegacyMapping;
  /** Each call's whole wait for the database; past it, LegacyUnavailableError (never "not found"). */
  timeoutMs?: number;
  /** Key of the fingerprint handed to the idp with each authenticated user. */
  fingerprintKey: string;
  metrics?: AdapterMetrics;
  logger?: Logger;
}

const text = (value: unknown): string | null => {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
};

// Drivers return TINYINT as 1, booleans as true, enums as strings: compare one spelling.
const comparable = (value: unknown): string => (value === true ? '1' : value === false ? '0' : String(value));

export interface LegacyDirectory {
  /** The row a login form would pick: exact username match first, else the oldest row with that e-mail (as PHP does). */
  findForLogin(identifier: string): Promise<LegacyRow | undefined>;
  /** Every row with that e-mail (legacy sign-ups could share one), oldest first. */
  findByEmail(email: string): Promise<LegacyRow[]>;
  authenticate(login: string, password: string): Promise<AuthResult>;
  /**
   * Dual-write: a password changed in the idp, into the legacy row (mapping `write` section).
   * Throws LegacyCannotWriteError without one, LegacyUnavailableError when the database fails.
   */
  writePassword(change: PasswordWrite): Promise<PasswordWriteResult>;
  /** Checks that the mapped table and columns exist (readiness). */
  check(): Promise<void>;
}

/** The mapped columns, aliased to LegacyRow's names: what every read of the legacy table selects. */
export function legacySelection(mapping: LegacyMapping): Record<string, string> {
  const { columns } = mapping;
  const selection: Record<string, string> = { id: columns.id, hash: columns.hash };
  for (const key of ['username', 'email', 'salt', 'name'] as const) {
    const column = columns[key];
    if (column) selection[key] = column;
  }
  if (mapping.active) selection.active = mapping.active.column;
  return selection;
}

/** A raw row selected with legacySelection, read through the mapping. */
export function toLegacyRow(mapping: LegacyMapping, raw: Record<string, unknown>): LegacyRow {
  let active = true;
  const rule = mapping.active;
  if (rule) {
    active = 'activeWhenNull' in rule ? raw.active === null || raw.active === undefined : rule.activeValues.map(comparable).includes(comparable(raw.active));
  }
  return {
    legacyId: String(raw.id),
    username: text(raw.username) || null,
    email: text(raw.email) || null,
    name: text(raw.name) || null,
    active,
    hash: text(raw.hash),
    salt: text(raw.salt),
  };
}

/** The salt to verify a row's hash with: a NULL salt is '' where the legacy code concatenated it so. */
export function verificationSalt(mapping: LegacyMapping, row: Pick<LegacyRow, 'salt'>): string | null {
  return row.salt ?? (mapping.passwords.nullSalt === 'empty' ? '' : null);
}

export function createLegacyDirectory(knex: Knex, options: LegacyDirectoryOptions): LegacyDirectory {
  const { mapping, fingerprintKey, metrics, logger } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LEGACY_DATABASE_TIMEOUT_MS;
  const { columns } = mapping;
  const selection = legacySelection(mapping);
  const lower = mapping.lookup.caseInsensitive === 'lower';

  const toRow = (raw: Record<string, unknown>): LegacyRow => toLegacyRow(mapping, raw);
  const writer = createLegacyPasswordWriter(knex, { mapping, fingerprintKey, timeoutMs });
  const dummy = createDummyVerifier(knex, { mapping, key: fingerprintKey, timeoutMs, saltOf: (row) => verificationSalt(mapping, row) });

  const matches = (column: string, value: string) => (lower ? knex.raw('LOWER(??) = ?', [column, value.toLowerCase()]) : knex.raw('?? = ?', [column, value]));

  /** One read of the legacy table, within the deadline; any failure is the database's. */
  async function query<T>(build: () => Knex.QueryBuilder): Promise<T> {
    try {
      return await queryWithin<T>(knex, timeoutMs, build);
    } catch (error) {
      throw new LegacyUnavailableError(error);
    }
  }

  async function findForLogin(identifier: string): Promise<LegacyRow | undefined> {
    const { username, email } = columns;
    const rows = await query<Record<string, unknown>[]>(() => {
      const q = knex(mapping.table).select(selection);
      q.where((w) => {
        if (username) w.orWhere(matches(username, identifier));
        if (email) w.orWhere(matches(email, identifier));
      });
      if (username && email) {
        const exact = lower ? knex.raw('LOWER(??) = ?', [username, identifier.toLowerCase()]) : knex.raw('?? = ?', [username, identifier]);
        q.orderByRaw('CASE WHEN ? THEN 0 ELSE 1 END', [exact]);
      }
      return q.orderBy(columns.id).limit(1);
    });
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  async function findByEmail(emailAddress: string): Promise<LegacyRow[]> {
    const { email } = columns;
    if (!email) return [];
    const rows = await query<Record<string, unknown>[]>(() =>
      knex(mapping.table).select(selection).where(matches(email, emailAddress)).orderBy(columns.id).limit(50),
    );
    return rows.map(toRow);
  }

  async function verify(row: LegacyRow, password: string): Promise<VerifyResult> {
    const salt = verificationSalt(mapping, row);
    const started = performance.now();
    const result = await verifyPassword(
      password,
      { hash: row.hash, salt },
      { candidates: mapping.passwords.hexCandidates, encodings: mapping.passwords.encodings },
    );
    metrics?.verifyDuration.observe({ scheme: result.scheme ?? 'unknown' }, (performance.now() - started) / 1000);
    return result;
  }

  function record(result: AuthFailure | 'success', scheme: string | null): void {
    metrics?.authentications.inc({ result, scheme: scheme ?? 'unknown' });
  }

  return {
    findForLogin,
    findByEmail,
    async authenticate(login, password) {
      if (password === '') {
        record('empty_password', null);
        return { ok: false, reason: 'empty_password' };
      }
      const row = await findForLogin(login);
      if (!row) {
        // As long as verifying a real row takes (directory/dummy-verify.ts), so the answer's timing
        // does not say whether the account exists.
        metrics?.dummyVerifies.inc({ scheme: await dummy.spend(login, password) });
        record('not_found', null);
        return { ok: false, reason: 'not_found' };
      }
      // Inactive rows are verified too, so that answering takes as long as for a wrong password.
      const result = await verify(row, password);
      if (!result.ok && result.reason !== 'mismatch') {
        const code = result.error?.code ?? 'empty';
        metrics?.unreadableHashes.inc({ code });
        logger?.warn({ legacyId: row.legacyId, scheme: result.scheme, problem: code, detail: result.error?.message }, 'legacy hash cannot be verified');
        record('unreadable_hash', result.scheme);
        return { ok: false, reason: 'unreadable_hash' };
      }
      if (!result.ok) {
        record('wrong_password', result.scheme);
        return { ok: false, reason: 'wrong_password' };
      }
      if (!row.active) {
        record('inactive', result.scheme);
        return { ok: false, reason: 'inactive' };
      }
      record('success', result.scheme);
      const { hash, salt, ...user } = row;
      return { ok: true, user, scheme: result.scheme ?? 'unknown', fingerprint: legacyFingerprint(fingerprintKey, hash, salt) };
    },
    writePassword: (change) => writer.write(change),
    async check() {
      await query(() => knex(mapping.table).select(selection).limit(1));
    },
  };
}

/** The profile part of a row, for answers that must never carry the hash. */
export function profileOf(row: LegacyRow): LegacyProfile {
  return { legacyId: row.legacyId, username: row.username, email: row.email, name: row.name, active: row.active };
}
