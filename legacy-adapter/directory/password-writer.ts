// Dual-write: the new password of a user who changed it in the idp, written into the legacy
// table through the mapping's `write` section, once per event and never older over newer.
import { boundQuery, withDeadline, type Knex } from '../../lib/db.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { LegacyUnavailableError } from './unavailable.ts';
import { legacyFingerprint } from './fingerprint.ts';
import { LEGACY_ADAPTER_ERRORS, type PasswordWrite, type PasswordWriteResult } from '../../contracts/legacy-adapter-api.ts';

/** The mapping has no `write` section: this legacy site cannot take passwords back. */
export class LegacyCannotWriteError extends Error {
  constructor() {
    super('the legacy mapping has no write section: passwords cannot be written to the legacy table');
    this.name = 'LegacyCannotWriteError';
  }
}

export interface LegacyPasswordWriter {
  write(change: PasswordWrite): Promise<PasswordWriteResult>;
}

// Same text on SQLite and MySQL DATETIME columns, and what the sample PHP site writes (gmdate).
const utcNow = () => new Date().toISOString().slice(0, 19).replace('T', ' ');

const isTableExists = (error: unknown) => {
  const e = error as { code?: string; message?: string };
  return e.code === 'ER_TABLE_EXISTS_ERROR' || /already exists/.test(e.message ?? '');
};

export function createLegacyPasswordWriter(knex: Knex, options: { mapping: LegacyMapping; fingerprintKey: string; timeoutMs: number }): LegacyPasswordWriter {
  const { mapping, fingerprintKey, timeoutMs } = options;
  const write = mapping.write;
  const mysql = knex.client.config.client === 'mysql2';
  let ledgerReady: Promise<void> | undefined;
  // Each statement is killed at the deadline too, so a row lock held elsewhere cannot keep this
  // transaction, and its connection, waiting after the answer has gone out.
  const bound = <Q extends Knex.QueryBuilder>(query: Q): Q => boundQuery(knex, query, timeoutMs);

  async function ensureLedger(table: string): Promise<void> {
    if (await knex.schema.hasTable(table)) return;
    try {
      await knex.schema.createTable(table, (t) => {
        t.string('legacy_id', 64).primary();
        t.bigInteger('sequence').notNullable();
        t.string('event_id', 36).notNullable();
        t.bigInteger('applied_at').notNullable();
      });
    } catch (error) {
      // Another adapter replica created it first.
      if (!isTableExists(error)) throw error;
    }
  }

  type PasswordColumns = NonNullable<LegacyMapping['write']>['password'];

  async function apply(change: PasswordWrite, ledgerTable: string, password: PasswordColumns): Promise<PasswordWriteResult> {
    const hashColumn = password.column ?? mapping.columns.hash;
    ledgerReady ??= ensureLedger(ledgerTable).catch((error: unknown) => {
      ledgerReady = undefined;
      throw error;
    });
    await ledgerReady;
    return knex.transaction(async (trx): Promise<PasswordWriteResult> => {
      // Lock the user's row first: concurrent writes for one user queue here (MySQL), and the
      // ledger check below then sees the winner's entry.
      const lock = trx(mapping.table).select(mapping.columns.id).where(mapping.columns.id, change.legacyId);
      const found = await bound(mysql ? lock.forUpdate() : lock).first();
      if (!found) return { ok: false, reason: LEGACY_ADAPTER_ERRORS.legacyUserNotFound };
      const applied = (await bound(trx(ledgerTable).where({ legacy_id: change.legacyId })).first('sequence', 'event_id')) as
        { sequence: unknown; event_id: string } | undefined;
      if (applied && Number(applied.sequence) >= change.sequence) {
        return { ok: true, outcome: applied.event_id === change.eventId ? 'duplicate' : 'stale' };
      }
      const columns: Record<string, unknown> = { ...password.set, [hashColumn]: change.hash };
      for (const column of password.clear) columns[column] = null;
      if (mapping.updatedAt) columns[mapping.updatedAt] = utcNow();
      await bound(trx(mapping.table).where(mapping.columns.id, change.legacyId)).update(columns);
      await bound(trx(ledgerTable))
        .insert({ legacy_id: change.legacyId, sequence: change.sequence, event_id: change.eventId, applied_at: Date.now() })
        .onConflict('legacy_id')
        .merge(['sequence', 'event_id', 'applied_at']);
      // The fingerprint the batch migration would compute for the row as it now stands.
      const salt = mapping.columns.salt
        ? ((await bound(trx(mapping.table).where(mapping.columns.id, change.legacyId)).first({ salt: mapping.columns.salt })) as { salt: unknown } | undefined)
            ?.salt
        : null;
      const saltText = salt === null || salt === undefined ? null : Buffer.isBuffer(salt) ? salt.toString('utf8') : String(salt);
      return { ok: true, outcome: 'applied', fingerprint: legacyFingerprint(fingerprintKey, change.hash, saltText) };
    });
  }

  return {
    async write(change) {
      if (!write) throw new LegacyCannotWriteError();
      try {
        return await withDeadline(timeoutMs, () => apply(change, write.ledgerTable, write.password));
      } catch (error) {
        throw new LegacyUnavailableError(error);
      }
    },
  };
}
