// The dead-letter table of the ETL's store (migrations/001): one row per source and legacy id that could not
// be copied, kept until a later pass copies it.
import type { Knex } from '../../lib/db.ts';
import type { DeadLetter } from './types.ts';

type Db = Knex | Knex.Transaction;
const TABLE = 'legacy_etl_dead_letters';
// At most 500 rows per multi-row INSERT: knex writes them as a compound SELECT on SQLite, which allows 500 terms.
const CHUNK = 500;

/** Records (or refreshes) the dead letters; first_seen_at survives a refresh. */
export async function recordDeadLetters(db: Db, source: string, letters: readonly DeadLetter[], now = Date.now()): Promise<void> {
  for (let i = 0; i < letters.length; i += CHUNK) {
    const rows = letters.slice(i, i + CHUNK).map((l) => ({
      source,
      legacy_id: l.legacyId,
      reason: l.reason,
      detail: l.detail === null ? null : l.detail.slice(0, 255),
      first_seen_at: now,
      last_seen_at: now,
    }));
    await db(TABLE).insert(rows).onConflict(['source', 'legacy_id']).merge(['reason', 'detail', 'last_seen_at']);
  }
}

/** Deletes the entries of rows that have now been copied. */
export async function resolveDeadLetters(db: Db, source: string, legacyIds: readonly string[]): Promise<void> {
  for (let i = 0; i < legacyIds.length; i += CHUNK) {
    await db(TABLE)
      .where('source', source)
      .whereIn('legacy_id', legacyIds.slice(i, i + CHUNK))
      .delete();
  }
}

export async function countDeadLetters(db: Db, source: string): Promise<number> {
  const [row] = (await db(TABLE).where('source', source).count({ n: '*' })) as { n: number | string }[];
  return Number(row?.n ?? 0);
}

export interface StoredDeadLetter extends DeadLetter {
  firstSeenAt: Date;
  lastSeenAt: Date;
}

export async function listDeadLetters(db: Db, source: string): Promise<StoredDeadLetter[]> {
  const rows = (await db(TABLE).where('source', source).orderBy('id')) as Record<string, unknown>[];
  return rows.map((r) => ({
    legacyId: String(r.legacy_id),
    reason: r.reason as DeadLetter['reason'],
    detail: (r.detail as string | null) ?? null,
    firstSeenAt: new Date(Number(r.first_seen_at)),
    lastSeenAt: new Date(Number(r.last_seen_at)),
  }));
}
