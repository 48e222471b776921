import type { Migration } from '../../../lib/db.ts';

/**
 * Where each batch migration pass got to: the last legacy id whose batch the idp took and whose
 * dead letters were recorded. The idp commits a batch before the checkpoint moves past it, so a
 * pass killed in between sends that batch again, which the idp's import finds done (idempotent).
 * Releases before kept the same table in the idp's store (legacy_migration_checkpoints, idp
 * migration 021): a pass left running there starts afresh here, changing nothing it already did.
 */
export const checkpoints: Migration = {
  name: '002-legacy-etl-checkpoints',
  async up(knex) {
    await knex.schema.createTable('legacy_etl_checkpoints', (t) => {
      // The source table, plus the delta cut-off for --changed-since passes.
      t.string('name', 190).primary();
      // 'running' (resume after last_id) or 'done' (the next pass starts from the beginning).
      t.string('state', 16).notNullable();
      t.string('last_id', 64).nullable();
      // The pass's counts so far (JSON), so a resumed pass reports and exits for all of it.
      t.text('counts').notNullable();
      t.bigInteger('started_at').notNullable();
      // Rows in the batch sent to the idp and not yet answered: a resumed pass reads that batch
      // again, the same rows, so the idp recognises it (its import receipt) and answers as before.
      t.integer('pending_size').nullable();
      t.bigInteger('updated_at').notNullable();
    });
  },
  async down(knex) {
    await knex.schema.dropTable('legacy_etl_checkpoints');
  },
};
