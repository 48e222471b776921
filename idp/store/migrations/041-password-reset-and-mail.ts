import type { Migration } from '../../../lib/db.ts';

/**
 * Password reset by e-mail (idp/reset) and the mail outbox (idp/mail).
 * `password_resets`: one row per link sent. The token itself is never stored, only its HMAC
 * (`token_hash`, keyed by IDP_PASSWORD_RESET_SECRET); `used_at` makes a link single-use.
 * `mail_outbox`: every message the idp sends, written before any SMTP conversation and retried
 * with backoff until the server takes it. The bodies can hold a reset link (a credential), so
 * they are erased once the message is sent, with the recipient and subject (personal data); the
 * settled rows themselves go after IDP_MAIL_RETENTION_DAYS.
 * Expand-only: two new tables that nothing older reads.
 */
export const passwordResetAndMail: Migration = {
  name: '041-password-reset-and-mail',
  async up(knex) {
    await knex.schema.createTable('password_resets', (t) => {
      t.string('token_hash', 64).primary();
      t.string('user_id', 36).notNullable();
      // Epoch milliseconds, compared the same way on SQLite and MariaDB.
      t.bigInteger('created_at').notNullable();
      t.bigInteger('expires_at').notNullable();
      t.bigInteger('used_at').nullable();
      t.index(['user_id'], 'password_resets_user');
      t.index(['expires_at'], 'password_resets_expires');
    });
    await knex.schema.createTable('mail_outbox', (t) => {
      t.bigIncrements('id');
      // Which template made it ('password-reset', 'password-reset-done'): metrics and logs, never the recipient.
      t.string('template', 64).notNullable();
      t.string('recipient', 320).notNullable();
      t.string('subject', 255).notNullable();
      t.text('text_body').nullable();
      t.text('html_body').nullable();
      // 'pending' until the SMTP server accepted it, then 'sent'.
      t.string('status', 16).notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      // A short code (ECONNREFUSED, EAUTH, smtp_550...): never a body or a secret.
      t.string('last_error', 255).nullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('next_attempt_at').notNullable();
      t.bigInteger('sent_at').nullable();
      t.string('locked_by', 64).nullable();
      t.bigInteger('locked_until').nullable();
      t.index(['status', 'next_attempt_at'], 'mail_outbox_status_next_attempt');
      t.index(['status', 'sent_at'], 'mail_outbox_status_sent');
    });
  },
  async down(knex) {
    await knex.schema.dropTable('mail_outbox');
    await knex.schema.dropTable('password_resets');
  },
};
