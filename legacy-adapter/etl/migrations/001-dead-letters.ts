import type { Migration } from '../../../lib/db.ts';

/**
 * Legacy rows the batch migration could not copy, one per source table and legacy id, with why.
 * A later run that copies the row deletes its entry, so the table is always the list of what
 * still needs a human. Never holds a hash, a salt or a password. The ETL's own store
 * (LEGACY_ETL_DATABASE_URL); releases before it kept the same table in the idp's store
 * (legacy_migration_dead_letters, idp migration 020), which stays there, no longer written.
 */
export const deadLetters: Migration = {
  name: '001-legacy-etl-dead-letters',
  async up(knex) {
    await knex.schema.createTable('legacy_etl_dead_letters', (t) => {
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
      t.unique(['source', 'legacy_id'], { indexName: 'legacy_etl_dead_letters_source_legacy_id' });
      t.index(['source', 'reason'], 'legacy_etl_dead_letters_source_reason');
    });
  },
  async down(knex) {
    await knex.schema.dropTable('legacy_etl_dead_letters');
  },
};
