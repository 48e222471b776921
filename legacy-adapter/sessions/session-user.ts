import type { Knex } from 'knex';
import { queryWithin } from '../../lib/db.ts';
import { legacySelection, toLegacyRow, type LegacyRow } from '../directory/directory.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { sessionLeaves } from '../mapping-format/session-schema.ts';
import type { LoggedInAs, SessionUser } from './php-session.ts';

/** The extra columns of the user's row the mapping's session keys read. */
export function sessionColumns(mapping: LegacyMapping): string[] {
  const columns = sessionLeaves(mapping.session.keys).flatMap(({ spec }) => ('column' in spec.source ? [spec.source.column] : []));
  return [...new Set(columns)];
}

/** The column a session value identifies the user by (the first `loggedInAs` key's source). */
export function lookupColumn(mapping: LegacyMapping, by: LoggedInAs['by']): string {
  if ('column' in by) return by.column;
  return by.from === 'id' ? mapping.columns.id : mapping.columns[by.from]!;
}

export interface SessionRow {
  row: LegacyRow;
  user: SessionUser;
}

/**
 * The legacy row whose `column` holds `value` (the oldest, lowest id, if several do), read through
 * the mapping, with the columns the session keys need.
 */
/** The user a session names, read within `timeoutMs` (LEGACY_DATABASE_TIMEOUT_MS). */
export async function findSessionRow(
  legacyDb: Knex,
  mapping: LegacyMapping,
  column: string,
  value: string | number,
  timeoutMs: number,
): Promise<SessionRow | undefined> {
  const extra = sessionColumns(mapping);
  const selection: Record<string, string> = { ...legacySelection(mapping) };
  extra.forEach((name, i) => (selection[`session_${i}`] = name));
  const raw = await queryWithin<Record<string, unknown> | undefined>(legacyDb, timeoutMs, () =>
    legacyDb(mapping.table).select(selection).where(column, value).orderBy(mapping.columns.id).first(),
  );
  if (!raw) return undefined;
  const row = toLegacyRow(mapping, raw);
  const columns = Object.fromEntries(extra.map((name, i) => [name, raw[`session_${i}`]]));
  return { row, user: { legacyId: row.legacyId, username: row.username, email: row.email, name: row.name, columns } };
}
