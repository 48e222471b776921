import type { Migration } from '../../../lib/db.ts';

/**
 * Legacy rows the batch migration (legacy-adapter/etl) could not copy, one per source table and
 * legacy id, with why. A later run that copies the row deletes its entry, so the table is always
 * the list of what still needs a human. Never holds a hash, a salt or a password.
 * Expand-only: a new table that nothing else reads.
 */
export const legacyMigrationDeadLetters: Migration = {
  name: '020-legacy-migration-dead-letters',
  async up(knex) {
    await knex.schema.createTable('legacy_migration_dead_letters', (t) => {
      t.increments('id');
      // The mapping's legacy table (e.g. `users`, `forum_members`).
      t.string('source', 130).notNullable();
      t.string('legacy_id', 64).notNullable();
      // no_login, invalid_email, email_taken, username_taken, unrecognised_hash, write_failed, ...
      t.string('reason', 32).notNullable();
      t.string('detail', 255).nullable();
      // Epoch milliseconds, compared the same way on SQLite and MariaDB.
      t.bigInteger('first_seen_at').notNullable();
      t.bigInteger('last_seen_at').notNullable();
      t.unique(['source', 'legacy_id'], { indexName: 'legacy_migration_dead_letters_source_legacy_id' });
      t.index(['source', 'reason'], 'legacy_migration_dead_letters_source_reason');
    });
  },
  async down(knex) {
    await knex.schema.dropTable('legacy_migration_dead_letters');
  },
};
