// The batch migration's checkpoints, in the ETL's own store (migrations/002).
import { loadCheckpoint as load, saveCheckpoint as save, type Checkpoint } from '../../lib/checkpoints.ts';
import type { Knex } from '../../lib/db.ts';
import { parseCounts, type MigrationCounts } from './types.ts';

const TABLE = 'legacy_etl_checkpoints';

export interface EtlCheckpoint extends Checkpoint<MigrationCounts> {
  /** Rows of the batch sent to the idp after lastId whose answer has not come back yet. */
  pendingSize: number | null;
}

export type { Checkpoint };

/** One checkpoint per source table, and one per delta cut-off (a delta pass is its own pass). */
export function checkpointName(source: string, changedSince?: Date): string {
  return changedSince ? `${source}@changed-since=${changedSince.toISOString()}` : source;
}

export async function loadCheckpoint(db: Knex, name: string): Promise<EtlCheckpoint | undefined> {
  const checkpoint = await load(db, TABLE, name, parseCounts);
  if (!checkpoint) return undefined;
  const row = (await db(TABLE).where('name', name).first('pending_size')) as { pending_size: number | null } | undefined;
  return { ...checkpoint, pendingSize: row?.pending_size == null ? null : Number(row.pending_size) };
}

export function saveCheckpoint(db: Knex | Knex.Transaction, checkpoint: EtlCheckpoint): Promise<void> {
  const { pendingSize, ...common } = checkpoint;
  return save(db, TABLE, common, { pending_size: pendingSize });
}
