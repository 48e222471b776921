// The legacy_outbox table (idp/store/migrations/030-legacy-outbox.ts): the one module that
// reads and writes it. The user store writes events inside its own transaction; the relay
// claims, settles and reschedules them.
import type { LEGACY_ADAPTER_ERRORS } from '../../contracts/legacy-adapter-api.ts';
import { randomUUID } from 'node:crypto';
import type { Knex } from '../../lib/db.ts';

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

export interface OutboxStats {
  /** Pending events. */
  backlog: number;
  /** created_at (epoch ms) of the oldest pending event, or null when there is none. */
  oldestPendingAt: number | null;
}

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
  const leaseFree = (q: Knex.QueryBuilder, now: number) => q.where((w) => w.whereNull('locked_until').orWhere('locked_until', '<', now));
  return {
    async claim(relayId, limit, leaseMs) {
      const now = Date.now();
      const rows = (await knex(`${TABLE} as o`)
        .select('o.id', 'o.event_id', 'o.user_id', 'o.legacy_id', 'o.legacy_hash', 'o.attempts', 'o.created_at')
        .where('o.status', 'pending')
        .where('o.next_attempt_at', '<=', now)
        .where((w) => w.whereNull('o.locked_until').orWhere('o.locked_until', '<', now))
        .whereNotExists(
          knex(`${TABLE} as p`)
            .select(knex.raw('1'))
            .whereRaw('?? = ??', ['p.user_id', 'o.user_id'])
            .where('p.status', 'pending')
            .whereRaw('?? < ??', ['p.id', 'o.id']),
        )
        .orderBy('o.id')
        .limit(limit)) as Row[];
      const claimed: OutboxEvent[] = [];
      for (const row of rows) {
        // The compare-and-set that makes the lease: of two relays that read the same row, one wins.
        const won = await leaseFree(knex(TABLE).where({ id: row.id, status: 'pending' }), now).update({ locked_by: relayId, locked_until: now + leaseMs });
        if (won === 1) claimed.push(toEvent(row));
      }
      return claimed;
    },
    async settle(event, relayId) {
      const at = Date.now();
      const n = await knex(TABLE)
        .where({ id: event.sequence, status: 'pending', locked_by: relayId })
        .update({
          status: 'relayed',
          relayed_at: at,
          settled_at: at,
          legacy_hash: null,
          last_error: null,
          attempts: event.attempts + 1,
          locked_by: null,
          locked_until: null,
        });
      return n === 1;
    },
    async reschedule(event, relayId, error, delayMs) {
      const n = await knex(TABLE)
        .where({ id: event.sequence, status: 'pending', locked_by: relayId })
        .update({ attempts: event.attempts + 1, last_error: error.slice(0, 255), next_attempt_at: Date.now() + delayMs, locked_by: null, locked_until: null });
      return n === 1;
    },
    async markDead(event, relayId, reason, error) {
      const n = await knex(TABLE)
        .where({ id: event.sequence, status: 'pending', locked_by: relayId })
        .update({
          status: 'dead',
          dead_reason: reason,
          settled_at: Date.now(),
          legacy_hash: null,
          last_error: error.slice(0, 255),
          attempts: event.attempts + 1,
          locked_by: null,
          locked_until: null,
        });
      return n === 1;
    },
    async prune(settledBefore, limit) {
      // Ids first, then a delete by id: the same two statements on SQLite and MariaDB (neither
      // DELETE ... LIMIT nor a subquery on the table being deleted from works on both).
      const rows = (await knex(TABLE)
        .select('id')
        .whereIn('status', ['relayed', 'dead'])
        // Rows a replica without migration 031 relayed have relayed_at only.
        .where((w) => w.where('settled_at', '<', settledBefore).orWhere((o) => o.whereNull('settled_at').where('relayed_at', '<', settledBefore)))
        .orderBy('id')
        .limit(limit)) as Row[];
      if (rows.length === 0) return 0;
      return knex(TABLE)
        .whereIn(
          'id',
          rows.map((r) => r.id as number),
        )
        .whereIn('status', ['relayed', 'dead'])
        .delete();
    },
    async stats() {
      const row = (await knex(TABLE).where('status', 'pending').first(knex.raw('count(*) as n'), knex.raw('min(created_at) as oldest'))) as Row | undefined;
      const oldest = row?.oldest;
      return { backlog: Number(row?.n ?? 0), oldestPendingAt: oldest === null || oldest === undefined ? null : Number(oldest) };
    },
  };
}
