// Whether the mapping can dual-write (legacy-adapter/directory/password-writer.ts): its `write`
// section names columns that must exist in the legacy table, or every write fails at run time.
import type { Knex } from '../../lib/db.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';

export interface WriteSupport {
  /** The mapping has a `write` section. */
  configured: boolean;
  /** The columns a password write sets: the hash column, clear, set and updatedAt. */
  columns: string[];
  /** Of those, the ones the legacy table does not have. */
  missing: string[];
  /** The adapter's ledger table (created at the first write when missing). */
  ledgerTable: string | null;
  ledgerExists: boolean;
  /** configured and no column missing: POST /internal/v1/users/password can write. */
  canWrite: boolean;
}

export async function checkWriteSupport(knex: Knex, mapping: LegacyMapping): Promise<WriteSupport> {
  const write = mapping.write;
  if (!write) return { configured: false, columns: [], missing: [], ledgerTable: null, ledgerExists: false, canWrite: false };
  const columns = [
    ...new Set([
      write.password.column ?? mapping.columns.hash,
      ...write.password.clear,
      ...Object.keys(write.password.set),
      ...(mapping.updatedAt ? [mapping.updatedAt] : []),
    ]),
  ];
  const missing: string[] = [];
  for (const column of columns) if (!(await knex.schema.hasColumn(mapping.table, column))) missing.push(column);
  const ledgerExists = await knex.schema.hasTable(write.ledgerTable);
  return { configured: true, columns, missing, ledgerTable: write.ledgerTable, ledgerExists, canWrite: missing.length === 0 };
}

/** The lines for people, under the readiness report. */
export function formatWriteSupport(support: WriteSupport, table: string): string {
  if (!support.configured) {
    return 'DUAL-WRITE: NO: the mapping has no write section; password changes in the idp cannot reach the legacy site (the adapter answers 409 mapping_cannot_write).';
  }
  const lines = [`dual-write columns of ${table}: ${support.columns.join(', ')}`];
  lines.push(`ledger table ${support.ledgerTable}: ${support.ledgerExists ? 'exists' : 'absent (created at the first write)'}`);
  lines.push(
    support.canWrite
      ? 'DUAL-WRITE: YES: password changes in the idp can be written to the legacy table.'
      : `DUAL-WRITE: NO: ${table} has no column ${support.missing.join(', ')}; fix the mapping's write section (every write would fail).`,
  );
  return lines.join('\n');
}
