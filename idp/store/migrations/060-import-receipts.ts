import type { Migration } from '../../../lib/db.ts';

/**
 * The bulk import's receipts (idp/import/apply.ts): per import pass, the key and the answer of
 * the last batch it committed, written in that batch's transaction. A batch the ETL sends again
 * because the answer was lost (killed, timed out) gets the same answer back, so the ETL counts
 * every row once. One row per pass: only the last batch can be in doubt. The answer lists legacy
 * ids, outcomes and refusal reasons, never a hash.
 * Expand-only: a new table that nothing older reads.
 */
export const importReceipts: Migration = {
  name: '060-import-receipts',
  async up(knex) {
    await knex.schema.createTable('import_receipts', (t) => {
      t.string('pass', 190).primary();
      t.string('batch', 190).notNullable();
      // JSON, stored deflated since (idp/import/apply.ts); a batch of 10,000 results is several hundred kB of it.
      t.text('answer', 'mediumtext').notNullable();
      // Epoch milliseconds.
      t.bigInteger('updated_at').notNullable();
    });
  },
  async down(knex) {
    await knex.schema.dropTable('import_receipts');
  },
};
