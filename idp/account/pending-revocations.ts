// The revocations password changes still owe (table pending_revocations, migration 040): the
// row is written in the transaction that changes the password and deleted once the account's
// other grants and sessions are gone. Grants and sessions live in Redis, the password in SQL:
// a Redis that fails between the two delays the revocation, the row makes sure it still happens.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

const TABLE = 'pending_revocations';

export interface RevocationRequest {
  accountId: string;
  /** The grant and the session of the browser that made the change: they stay. */
  keepGrantId: string | null;
  keepSessionId: string | null;
}

export interface PendingRevocation extends RevocationRequest {
  id: string;
  attempts: number;
}

/** Records a revocation inside the caller's transaction; its id, for `settle`. */
export async function insertPendingRevocation(trx: Knex.Transaction, request: RevocationRequest): Promise<string> {
  const id = randomUUID();
  await trx(TABLE).insert({
    id,
    account_id: request.accountId,
    keep_grant_id: request.keepGrantId,
    keep_session_id: request.keepSessionId,
    requested_at: Date.now(),
    attempts: 0,
  });
  return id;
}

export interface PendingRevocations {
  /** The oldest `limit` revocations not done yet. */
  due(limit: number): Promise<PendingRevocation[]>;
  /** Done: forget it. */
  settle(id: string): Promise<void>;
  /** Tried and failed: counted, kept for the next try. */
  failed(id: string): Promise<void>;
}

export function createPendingRevocations(knex: Knex): PendingRevocations {
  return {
    async due(limit) {
      const rows = (await knex(TABLE)
        .select('id', 'account_id', 'keep_grant_id', 'keep_session_id', 'attempts')
        .orderBy('requested_at')
        .limit(limit)) as Record<string, unknown>[];
      return rows.map((row) => ({
        id: String(row.id),
        accountId: String(row.account_id),
        keepGrantId: (row.keep_grant_id as string | null) ?? null,
        keepSessionId: (row.keep_session_id as string | null) ?? null,
        attempts: Number(row.attempts),
      }));
    },
    async settle(id) {
      await knex(TABLE).where({ id }).delete();
    },
    async failed(id) {
      await knex(TABLE).where({ id }).increment('attempts', 1);
    },
  };
}
