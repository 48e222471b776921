// Resumable passes over big tables keep a checkpoint row: how far they got, committed with each
// batch where the batch's writes share its database. The batch migration keeps its own in the
// ETL's store (legacy_etl_checkpoints); the idp's wrap pass in the idp's
// (legacy_migration_checkpoints, idp migration 021). Same shape, so one reader and one writer.
import type { Knex } from './db.ts';

type Db = Knex | Knex.Transaction;

export interface Checkpoint<C> {
  name: string;
  /** 'running': a pass is under way (or was killed) and resumes after lastId. 'done': it finished. */
  state: 'running' | 'done';
  lastId: string | null;
  counts: C;
  startedAt: number;
}

/** `parse` reads the pass's counts (saved as JSON) leniently. */
export async function loadCheckpoint<C>(db: Db, table: string, name: string, parse: (text: string) => C): Promise<Checkpoint<C> | undefined> {
  const row = (await db(table).where('name', name).first()) as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return {
    name,
    state: row.state === 'done' ? 'done' : 'running',
    lastId: (row.last_id as string | null) ?? null,
    counts: parse(String(row.counts)),
    startedAt: Number(row.started_at),
  };
}

/** `extra`: columns of the table's own beyond the common ones. */
export async function saveCheckpoint(
  db: Db,
  table: string,
  checkpoint: Checkpoint<unknown>,
  extra: Record<string, Knex.Value> = {},
  now = Date.now(),
): Promise<void> {
  await db(table)
    .insert({
      ...extra,
      name: checkpoint.name,
      state: checkpoint.state,
      last_id: checkpoint.lastId,
      counts: JSON.stringify(checkpoint.counts),
      started_at: checkpoint.startedAt,
      updated_at: now,
    })
    .onConflict('name')
    .merge(['state', 'last_id', 'counts', 'started_at', 'updated_at', ...Object.keys(extra)]);
}
