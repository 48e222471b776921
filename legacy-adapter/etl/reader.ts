// Reads the legacy table in keyset-paginated batches through the mapping. Every read is one
// plain, autocommitted SELECT of at most `limit` rows (on InnoDB a consistent non-locking
// read), never a transaction and never the whole table, so the live PHP site is never waiting
// on the migration.
import type { Knex } from '../../lib/db.ts';
import { legacySelection, toLegacyRow, type LegacyRow } from '../directory/directory.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';

/** Where a read starts: after an id already done (exclusive) or at an id asked for (inclusive). */
export type KeysetStart = { after: unknown } | { from: unknown } | null;

export interface LegacyBatch {
  rows: LegacyRow[];
  /** The raw id of the last row, as the driver returned it: the next batch starts after it. */
  lastId: unknown;
}

export interface LegacyReader {
  read(start: KeysetStart, limit: number): Promise<LegacyBatch>;
  /** How many rows a pass from `start` will read (for the ETA); one COUNT(*), also non-locking. */
  count(start: KeysetStart): Promise<number>;
}

/**
 * `changedSince`: only rows whose mapped updatedAt column is at or after it (UTC), for delta
 * passes while both systems live.
 */
export function createLegacyReader(knex: Knex, mapping: LegacyMapping, options: { changedSince?: Date } = {}): LegacyReader {
  const selection = legacySelection(mapping);
  const idColumn = mapping.columns.id;
  const { changedSince } = options;
  if (changedSince && !mapping.updatedAt) throw new Error('the mapping names no updatedAt column, so there is no delta mode');
  // The legacy column holds 'YYYY-MM-DD HH:MM:SS' UTC; comparing with that text works on
  // MySQL DATETIME/TIMESTAMP and on SQLite's text dates alike.
  const since = changedSince?.toISOString().slice(0, 19).replace('T', ' ');

  const scoped = (start: KeysetStart) => {
    const query = knex(mapping.table);
    if (start && 'after' in start) query.where(idColumn, '>', start.after as Knex.Value);
    if (start && 'from' in start) query.where(idColumn, '>=', start.from as Knex.Value);
    if (since !== undefined && mapping.updatedAt) query.where(mapping.updatedAt, '>=', since);
    return query;
  };

  return {
    async read(start, limit) {
      const raw = (await scoped(start).select(selection).orderBy(idColumn).limit(limit)) as Record<string, unknown>[];
      return { rows: raw.map((r) => toLegacyRow(mapping, r)), lastId: raw.length ? raw[raw.length - 1]?.id : undefined };
    },
    async count(start) {
      const [row] = (await scoped(start).count({ n: '*' })) as { n: number | string }[];
      return Number(row?.n ?? 0);
    },
  };
}
