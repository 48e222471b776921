import type { Migration } from '../../../lib/db.ts';

/**
 * Back-channel logouts owed to clients (idp/oidc/backchannel.ts): one row per client of an ended
 * idp session, written before the session is destroyed, so a restart, a crash or a client away
 * for a while loses none. No token is stored (it is signed afresh at each attempt): only who
 * (`client_id`), whose (`sub`) and which session (`sid`). Settled rows go after a day.
 * Expand-only: a new table that nothing older reads.
 */
export const backchannelOutbox: Migration = {
  name: '062-backchannel-outbox',
  async up(knex) {
    await knex.schema.createTable('backchannel_outbox', (t) => {
      t.bigIncrements('id');
      t.string('client_id', 255).notNullable();
      t.string('sub', 255).notNullable();
      t.string('sid', 255).nullable();
      // 'pending' until the client answered 200/204 ('sent') or every attempt failed ('failed').
      t.string('status', 16).notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      // The error's name and the client's status, never a token.
      t.string('last_error', 255).nullable();
      // Epoch milliseconds, compared the same way on SQLite and MariaDB.
      t.bigInteger('created_at').notNullable();
      t.bigInteger('next_attempt_at').notNullable();
      t.bigInteger('sent_at').nullable();
      t.string('locked_by', 64).nullable();
      t.bigInteger('locked_until').nullable();
      t.index(['status', 'next_attempt_at'], 'backchannel_outbox_status_next_attempt');
      t.index(['status', 'sent_at'], 'backchannel_outbox_status_sent');
    });
  },
  async down(knex) {
    await knex.schema.dropTable('backchannel_outbox');
  },
};
