// The checkpoint table (idp migration 021): how far a pass got, committed with each batch.
import type { Knex } from './db.ts';
import { parseCounts, type MigrationCounts } from '../legacy-adapter/etl/types.ts';

type Db = Knex | Knex.Transaction;
const TABLE = 'legacy_migration_checkpoints';

export interface Checkpoint<C = MigrationCounts> {
  name: string;
  /** 'running': a pass is under way (or was killed) and resumes after lastId. 'done': it finished. */
  state: 'running' | 'done';
  lastId: string | null;
  counts: C;
  startedAt: number;
}

/** One checkpoint per source table, and one per delta cut-off (a delta pass is its own pass). */
export function checkpointName(source: string, changedSince?: Date): string {
  return changedSince ? `${source}@changed-since=${changedSince.toISOString()}` : source;
}

/** `parse` reads the pass's counts (saved as JSON); the batch migration's by default. */
export async function loadCheckpoint<C = MigrationCounts>(
  db: Db,
  name: string,
  parse: (text: string) => C = parseCounts as unknown as (text: string) => C,
): Promise<Checkpoint<C> | undefined> {
  const row = (await db(TABLE).where('name', name).first()) as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return {
    name,
    state: row.state === 'done' ? 'done' : 'running',
    lastId: (row.last_id as string | null) ?? null,
    counts: parse(String(row.counts)),
    startedAt: Number(row.started_at),
  };
}

export async function saveCheckpoint(db: Db, checkpoint: Checkpoint<unknown>, now = Date.now()): Promise<void> {
  await db(TABLE)
    .insert({
      name: checkpoint.name,
      state: checkpoint.state,
      last_id: checkpoint.lastId,
      counts: JSON.stringify(checkpoint.counts),
      started_at: checkpoint.startedAt,
      updated_at: now,
    })
    .onConflict('name')
    .merge(['state', 'last_id', 'counts', 'started_at', 'updated_at']);
}
