import type { Migration } from '../../../lib/db.ts';

/**
 * Revocations a password change still owes (idp/account/pending-revocations.ts): written in the
 * transaction that changes the password, deleted once the account's other grants and sessions
 * are gone, so a Redis that fails in between delays the revocation but never loses it.
 * `keep_grant_id` / `keep_session_id`: what the browser that made the change keeps.
 * Expand-only: a new table that nothing else reads.
 */
export const pendingRevocations: Migration = {
  name: '040-pending-revocations',
  async up(knex) {
    await knex.schema.createTable('pending_revocations', (t) => {
      t.string('id', 36).primary();
      t.string('account_id', 36).notNullable();
      t.string('keep_grant_id', 255).nullable();
      t.string('keep_session_id', 255).nullable();
      // Epoch milliseconds: the order they are done in, oldest first.
      t.bigInteger('requested_at').notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.index(['requested_at'], 'pending_revocations_requested');
    });
  },
  async down(knex) {
    await knex.schema.dropTable('pending_revocations');
  },
};
