// The row protocol both of the idp's outboxes follow (legacy_outbox for the dual-write,
// mail_outbox for mail): a row is `pending` until its worker settles it; a worker holds a row by
// a lease (locked_by, locked_until) taken with a compare-and-set, so two replicas never send the
// same row, and a crashed worker's lease simply runs out. Each outbox module owns its table and
// its columns; this module owns only the statements that are the same for both.
import type { Knex } from '../../lib/db.ts';

type Row = Record<string, unknown>;

export interface PendingStats {
  /** Rows not yet settled. */
  backlog: number;
  /** created_at (epoch ms) of the oldest pending row, or null when there is none. */
  oldestPendingAt: number | null;
}

/** Rows no worker holds, or whose holder's lease ran out; `prefix` is the table's alias in a join. */
export function leaseFree(q: Knex.QueryBuilder, now: number, prefix = ''): Knex.QueryBuilder {
  return q.where((w) => w.whereNull(`${prefix}locked_until`).orWhere(`${prefix}locked_until`, '<', now));
}

/** Takes the lease on each of `rows` (read as due and free at `now`) that no other worker took first; returns those won. */
export async function leaseRows<R extends Row>(knex: Knex, table: string, rows: R[], holder: string, leaseMs: number, now: number): Promise<R[]> {
  const won: R[] = [];
  for (const row of rows) {
    const n = await leaseFree(knex(table).where({ id: row.id, status: 'pending' }), now).update({ locked_by: holder, locked_until: now + leaseMs });
    if (n === 1) won.push(row);
  }
  return won;
}

/** A pending row the lease holder settles with `changes`; false if the holder lost the lease. */
export async function settleLeased(knex: Knex, table: string, id: number, holder: string, changes: Row): Promise<boolean> {
  const n = await knex(table)
    .where({ id, status: 'pending', locked_by: holder })
    .update({ ...changes, locked_by: null, locked_until: null });
  return n === 1;
}

/** A failed attempt: counted, its error kept (cut to the column's 255), the row released and due again after `delayMs`. */
export function retryLater(knex: Knex, table: string, row: { id: number; attempts: number }, holder: string, error: string, delayMs: number): Promise<boolean> {
  return settleLeased(knex, table, row.id, holder, { attempts: row.attempts + 1, last_error: error.slice(0, 255), next_attempt_at: Date.now() + delayMs });
}

/**
 * Deletes up to `limit` rows in one of the settled `statuses` that `settledBefore` selects;
 * returns how many. Ids first, then a delete by id: the same two statements on SQLite and
 * MariaDB (neither DELETE ... LIMIT nor a subquery on the table being deleted from works on both).
 */
export async function pruneSettled(
  knex: Knex,
  table: string,
  statuses: string[],
  settledBefore: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
  limit: number,
): Promise<number> {
  const rows = (await settledBefore(knex(table).select('id').whereIn('status', statuses)).orderBy('id').limit(limit)) as Row[];
  if (rows.length === 0) return 0;
  return knex(table)
    .whereIn(
      'id',
      rows.map((r) => r.id as number),
    )
    .whereIn('status', statuses)
    .delete();
}

/** How many rows are pending and since when: one query, for the backlog and age gauges. */
export async function pendingStats(knex: Knex, table: string): Promise<PendingStats> {
  const row = (await knex(table).where('status', 'pending').first(knex.raw('count(*) as n'), knex.raw('min(created_at) as oldest'))) as Row | undefined;
  const oldest = row?.oldest;
  return { backlog: Number(row?.n ?? 0), oldestPendingAt: oldest === null || oldest === undefined ? null : Number(oldest) };
}
