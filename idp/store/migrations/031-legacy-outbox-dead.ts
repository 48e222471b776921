import type { Migration } from '../../../lib/db.ts';

/**
 * Dual-write give-up and pruning (idp/dual-write): an event the relay stops retrying becomes
 * status 'dead' with `dead_reason` ('legacy_user_not_found', 'max_attempts') and `dead_at`; its
 * hash is erased like a relayed event's. `settled_at` (relayed or dead) is what pruning ages rows
 * by, indexed so the prune batches do not scan the table.
 * Expand-only: new nullable columns; older replicas never read or write them (they still see a
 * dead row as not pending and leave it alone).
 */
export const legacyOutboxDead: Migration = {
  name: '031-legacy-outbox-dead',
  async up(knex) {
    await knex.schema.alterTable('legacy_outbox', (t) => {
      t.string('dead_reason', 32).nullable();
      t.bigInteger('settled_at').nullable();
      t.index(['status', 'settled_at'], 'legacy_outbox_status_settled');
    });
    // Rows relayed before this migration: settled when they were relayed.
    await knex('legacy_outbox')
      .where('status', 'relayed')
      .whereNull('settled_at')
      .update({ settled_at: knex.ref('relayed_at') });
  },
  async down(knex) {
    await knex.schema.alterTable('legacy_outbox', (t) => {
      t.dropIndex(['status', 'settled_at'], 'legacy_outbox_status_settled');
      t.dropColumn('settled_at');
      t.dropColumn('dead_reason');
    });
  },
};
