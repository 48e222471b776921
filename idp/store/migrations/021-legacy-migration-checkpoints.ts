import type { Migration } from '../../../lib/db.ts';

/**
 * Where each batch migration pass got to: the last legacy id whose batch committed, written in
 * the same transaction as that batch, so a pass killed at any moment resumes right after it.
 * Expand-only: a new table that nothing else reads.
 */
export const legacyMigrationCheckpoints: Migration = {
  name: '021-legacy-migration-checkpoints',
  async up(knex) {
    await knex.schema.createTable('legacy_migration_checkpoints', (t) => {
      // The source table, plus the delta cut-off for --changed-since passes.
      t.string('name', 190).primary();
      // 'running' (resume after last_id) or 'done' (the next pass starts from the beginning).
      t.string('state', 16).notNullable();
      t.string('last_id', 64).nullable();
      // The pass's counts so far (JSON), so a resumed pass reports and exits for all of it.
      t.text('counts').notNullable();
      t.bigInteger('started_at').notNullable();
      t.bigInteger('updated_at').notNullable();
    });
  },
  async down(knex) {
    await knex.schema.dropTable('legacy_migration_checkpoints');
  },
};
