import type { Migration } from '../../../lib/db.ts';

/**
 * Dual-write outbox (idp/dual-write): changes the legacy PHP site must learn about, written in
 * the same transaction as the change itself and relayed to the legacy-adapter by a worker.
 * `id` is the per-database sequence: events of one user are relayed in its order, and the
 * adapter refuses a sequence older than the one it applied last. `legacy_hash` (a `$2y$` bcrypt
 * hash, never a plaintext) is erased once the event is relayed.
 * Expand-only: a new table that nothing else reads.
 */
export const legacyOutbox: Migration = {
  name: '030-legacy-outbox',
  async up(knex) {
    await knex.schema.createTable('legacy_outbox', (t) => {
      t.bigIncrements('id');
      t.string('event_id', 36).notNullable().unique();
      // 'password_changed' (profile changes would be another kind).
      t.string('kind', 32).notNullable();
      t.string('user_id', 36).notNullable();
      t.string('legacy_id', 64).notNullable();
      t.string('legacy_hash', 255).nullable();
      // 'pending' until the adapter applied (or knowingly ignored) it, then 'relayed'.
      t.string('status', 16).notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      // A short code (`http_503:legacy_unavailable`, `timeout`, ...): never a hash or a secret.
      t.string('last_error', 255).nullable();
      // Epoch milliseconds, compared the same way on SQLite and MariaDB.
      t.bigInteger('created_at').notNullable();
      t.bigInteger('next_attempt_at').notNullable();
      t.bigInteger('relayed_at').nullable();
      // The lease of the relay (replica) sending it: another relay leaves the row alone until it expires.
      t.string('locked_by', 64).nullable();
      t.bigInteger('locked_until').nullable();
      t.index(['status', 'next_attempt_at'], 'legacy_outbox_status_next_attempt');
      t.index(['user_id', 'status'], 'legacy_outbox_user_status');
    });
  },
  async down(knex) {
    await knex.schema.dropTable('legacy_outbox');
  },
};
