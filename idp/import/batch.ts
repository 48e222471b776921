// Set-at-a-time access to the users table for the bulk import (idp/import/apply.ts): one query
// per batch instead of one per row. The rows are spelled by store.ts, as for a JIT import.
import type { Knex } from '../../lib/db.ts';
import { legacyUserColumns, newLegacyUserRow, toUser } from '../users/store.ts';
import type { NewLegacyUser, StoredUser } from '../users/types.ts';

type Db = Knex | Knex.Transaction;

/** What a batch of legacy rows could collide with: their own legacy ids and the login keys they want. */
export interface ImportKeys {
  legacyIds: readonly string[];
  /** Already normalized (normalizeLogin). */
  emails: readonly string[];
  usernames: readonly string[];
}

// Keeps each statement's parameter list well inside SQLite's limit (32766) and MySQL's packet.
const IN_CHUNK = 5_000;
// knex inserts several rows into SQLite as INSERT ... SELECT ... UNION ALL ..., and SQLite allows
// at most 500 terms in a compound SELECT.
const MAX_INSERT_ROWS = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Every user holding one of the legacy ids, normalized e-mails or normalized usernames, each
 * once. Three indexed IN-lists run side by side (the pool has several connections on MySQL).
 */
export async function findUsersForImport(db: Db, keys: ImportKeys): Promise<StoredUser[]> {
  const queries: Promise<Record<string, unknown>[]>[] = [];
  const lookups: [string, readonly string[]][] = [
    ['legacy_id', keys.legacyIds],
    ['email_normalized', keys.emails],
    ['username_normalized', keys.usernames],
  ];
  for (const [column, values] of lookups) {
    for (const part of chunks([...new Set(values)], IN_CHUNK)) queries.push(db('users').whereIn(column, part));
  }
  const seen = new Map<string, StoredUser>();
  for (const rows of await Promise.all(queries)) {
    for (const row of rows) if (!seen.has(String(row.id))) seen.set(String(row.id), toUser(row));
  }
  return [...seen.values()];
}

/**
 * Per idp user, the fingerprints of the legacy hashes the dual-write relay wrote for them (their
 * own password changes, echoed to the legacy row): never evidence of a change on the legacy side.
 */
export async function findDualWriteFingerprints(db: Db, userIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const written = new Map<string, Set<string>>();
  for (const part of chunks([...new Set(userIds)], IN_CHUNK)) {
    const rows = (await db('legacy_outbox').whereIn('user_id', part).whereNotNull('legacy_fingerprint').select('user_id', 'legacy_fingerprint')) as {
      user_id: string;
      legacy_fingerprint: string;
    }[];
    for (const row of rows) {
      const userId = String(row.user_id);
      const set = written.get(userId) ?? new Set<string>();
      set.add(row.legacy_fingerprint);
      written.set(userId, set);
    }
  }
  return written;
}

/** Inserts the users with multi-row INSERTs; a unique or data error fails the whole call (the caller's transaction). */
export async function insertLegacyUsers(trx: Db, users: readonly NewLegacyUser[]): Promise<void> {
  if (users.length === 0) return;
  const rows = users.map(newLegacyUserRow);
  const columns = Object.keys(rows[0] ?? {}).length || 1;
  for (const part of chunks(rows, Math.max(1, Math.min(MAX_INSERT_ROWS, Math.floor(30_000 / columns))))) await trx('users').insert(part);
}

/** What the batch migration changes on a user it imported before; only the fields given are written. */
export type LegacyUserChange = Partial<Omit<NewLegacyUser, 'legacyId'>>;

/**
 * Compare-and-set on the password hash, like the JIT upgrade: if a login rehashed the password
 * since `expectedHash` was read, nothing is written and the answer is false.
 */
export async function updateLegacyUser(trx: Db, userId: string, expectedHash: string | null, change: LegacyUserChange): Promise<boolean> {
  const columns = legacyUserColumns(change);
  if (Object.keys(columns).length === 0) return true;
  columns.updated_at = new Date();
  const query = trx('users').where('id', userId);
  if (expectedHash === null) query.whereNull('password_hash');
  else query.where('password_hash', expectedHash);
  return (await query.update(columns)) > 0;
}
