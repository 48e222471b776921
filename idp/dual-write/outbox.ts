// The legacy_outbox table (idp/store/migrations/030-legacy-outbox.ts): the one module that
// reads and writes it. The user store writes events inside its own transaction; the relay
// claims, settles and reschedules them.
import type { LEGACY_ADAPTER_ERRORS } from '../../contracts/legacy-adapter-api.ts';
import { randomUUID } from 'node:crypto';
import type { Knex } from '../../lib/db.ts';
import { leaseFree, leaseRows, pendingStats, pruneSettled, retryLater, settleLeased, type PendingStats } from '../outbox/table.ts';

const TABLE = 'legacy_outbox';

export interface PasswordEventInput {
  userId: string;
  legacyId: string;
  /** `$2y$` bcrypt of the new password, computed at change time. */
  legacyHash: string;
}

/** A claimed event, leased to one relay. */
export interface OutboxEvent {
  sequence: number;
  eventId: string;
  userId: string;
  legacyId: string;
  legacyHash: string | null;
  attempts: number;
  createdAt: number;
}

/** Why the relay gave an event up (legacy_outbox.dead_reason). */
export type DeadReason = typeof LEGACY_ADAPTER_ERRORS.legacyUserNotFound | 'max_attempts';

export type OutboxStats = PendingStats;

/** Writes a password_changed event with the caller's transaction (the one that changed the hash); returns its event id. */
export async function insertPasswordEvent(trx: Knex.Transaction, event: PasswordEventInput): Promise<string> {
  const eventId = randomUUID();
  const now = Date.now();
  await trx(TABLE).insert({
    event_id: eventId,
    kind: 'password_changed',
    user_id: event.userId,
    legacy_id: event.legacyId,
    legacy_hash: event.legacyHash,
    status: 'pending',
    attempts: 0,
    created_at: now,
    next_attempt_at: now,
  });
  return eventId;
}

type Row = Record<string, unknown>;

const toEvent = (row: Row): OutboxEvent => ({
  sequence: Number(row.id),
  eventId: String(row.event_id),
  userId: String(row.user_id),
  legacyId: String(row.legacy_id),
  legacyHash: (row.legacy_hash as string | null) ?? null,
  attempts: Number(row.attempts),
  createdAt: Number(row.created_at),
});

export interface Outbox {
  /**
   * Leases up to `limit` due events to `relayId` for `leaseMs`: per user only the oldest pending
   * one (a newer event waits until the older is relayed), and none another relay holds.
   */
  claim(relayId: string, limit: number, leaseMs: number): Promise<OutboxEvent[]>;
  /** Relayed: the hash is erased. Only by the relay holding the lease; false if it lost it. */
  settle(event: OutboxEvent, relayId: string): Promise<boolean>;
  /** A failed attempt: counted, its error kept, retried after `delayMs`. */
  reschedule(event: OutboxEvent, relayId: string, error: string, delayMs: number): Promise<boolean>;
  /**
   * Given up: never retried, the hash erased, the last error and the reason kept. It no longer
   * holds back the user's later events (claim looks at pending ones only). Lease holder only.
   */
  markDead(event: OutboxEvent, relayId: string, reason: DeadReason, error: string): Promise<boolean>;
  /** Deletes up to `limit` relayed or dead rows settled before `settledBefore` (epoch ms); returns how many. */
  prune(settledBefore: number, limit: number): Promise<number>;
  stats(): Promise<OutboxStats>;
}

export function createOutbox(knex: Knex): Outbox {
  return {
    async claim(relayId, limit, leaseMs) {
      const now = Date.now();
      const rows = (await leaseFree(
        knex(`${TABLE} as o`).select('o.id', 'o.event_id', 'o.user_id', 'o.legacy_id', 'o.legacy_hash', 'o.attempts', 'o.created_at'),
        now,
        'o.',
      )
        .where('o.status', 'pending')
        .where('o.next_attempt_at', '<=', now)
        .whereNotExists(
          knex(`${TABLE} as p`)
            .select(knex.raw('1'))
            .whereRaw('?? = ??', ['p.user_id', 'o.user_id'])
            .where('p.status', 'pending')
            .whereRaw('?? < ??', ['p.id', 'o.id']),
        )
        .orderBy('o.id')
        .limit(limit)) as Row[];
      return (await leaseRows(knex, TABLE, rows, relayId, leaseMs, now)).map(toEvent);
    },
    settle(event, relayId) {
      const at = Date.now();
      return settleLeased(knex, TABLE, event.sequence, relayId, {
        status: 'relayed',
        relayed_at: at,
        settled_at: at,
        legacy_hash: null,
        last_error: null,
        attempts: event.attempts + 1,
      });
    },
    reschedule: (event, relayId, error, delayMs) => retryLater(knex, TABLE, { id: event.sequence, attempts: event.attempts }, relayId, error, delayMs),
    markDead(event, relayId, reason, error) {
      return settleLeased(knex, TABLE, event.sequence, relayId, {
        status: 'dead',
        dead_reason: reason,
        settled_at: Date.now(),
        legacy_hash: null,
        last_error: error.slice(0, 255),
        attempts: event.attempts + 1,
      });
    },
    prune: (settledBefore, limit) =>
      pruneSettled(
        knex,
        TABLE,
        ['relayed', 'dead'],
        // Rows a replica without migration 031 relayed have relayed_at only.
        (q) => q.where((w) => w.where('settled_at', '<', settledBefore).orWhere((o) => o.whereNull('settled_at').where('relayed_at', '<', settledBefore))),
        limit,
      ),
    stats: () => pendingStats(knex, TABLE),
  };
}
