// The backchannel_outbox table (idp/store/migrations/062-backchannel-outbox.ts): the one module
// that reads and writes it. A logout owed to a client is stored before its idp session is
// destroyed, so neither a restart nor a client away for a while loses it.
import type { Knex } from '../../lib/db.ts';
import { leaseFree, leaseRows, pendingStats, pruneSettled, retryLater, settleLeased, type PendingStats } from '../outbox/table.ts';

const TABLE = 'backchannel_outbox';

export interface OwedLogout {
  clientId: string;
  sub: string;
  sid: string | undefined;
}

/** A claimed logout, leased to one sender. */
export interface QueuedLogout extends OwedLogout {
  id: number;
  attempts: number;
}

export interface BackchannelOutbox {
  add(logouts: readonly OwedLogout[]): Promise<void>;
  /** Leases up to `limit` due logouts to `holder` for `leaseMs` (a compare-and-set per row). */
  claim(holder: string, limit: number, leaseMs: number): Promise<QueuedLogout[]>;
  settle(logout: QueuedLogout, holder: string, status: 'sent' | 'failed', error?: string): Promise<boolean>;
  reschedule(logout: QueuedLogout, holder: string, error: string, delayMs: number): Promise<boolean>;
  /** Deletes up to `limit` settled rows settled before `before` (epoch ms); returns how many. */
  prune(before: number, limit: number): Promise<number>;
  stats(): Promise<PendingStats>;
}

type Row = Record<string, unknown>;

export function createBackchannelOutbox(knex: Knex): BackchannelOutbox {
  return {
    async add(logouts) {
      if (logouts.length === 0) return;
      const now = Date.now();
      await knex(TABLE).insert(
        logouts.map((l) => ({ client_id: l.clientId, sub: l.sub, sid: l.sid ?? null, status: 'pending', attempts: 0, created_at: now, next_attempt_at: now })),
      );
    },
    async claim(holder, limit, leaseMs) {
      const now = Date.now();
      const rows = (await leaseFree(knex(TABLE).select('id', 'client_id', 'sub', 'sid', 'attempts'), now)
        .where('status', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('id')
        .limit(limit)) as Row[];
      return (await leaseRows(knex, TABLE, rows, holder, leaseMs, now)).map((row) => ({
        id: Number(row.id),
        clientId: String(row.client_id),
        sub: String(row.sub),
        sid: row.sid === null || row.sid === undefined ? undefined : String(row.sid),
        attempts: Number(row.attempts),
      }));
    },
    settle: (logout, holder, status, error) =>
      settleLeased(knex, TABLE, logout.id, holder, { status, sent_at: Date.now(), attempts: logout.attempts + 1, last_error: error?.slice(0, 255) ?? null }),
    reschedule: (logout, holder, error, delayMs) => retryLater(knex, TABLE, logout, holder, error, delayMs),
    prune: (before, limit) => pruneSettled(knex, TABLE, ['sent', 'failed'], (q) => q.where('sent_at', '<', before), limit),
    stats: () => pendingStats(knex, TABLE),
  };
}
