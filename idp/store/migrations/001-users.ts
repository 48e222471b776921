import type { Migration } from '../../../lib/db.ts';

/**
 * The idp's own users. `id` is the OIDC subject: random, never the legacy id, so the legacy
 * schema can be deleted one day without changing anyone's `sub`.
 */
export const users: Migration = {
  name: '001-users',
  async up(knex) {
    await knex.schema.createTable('users', (t) => {
      t.string('id', 36).primary();
      t.string('legacy_id', 64).nullable().unique();
      t.string('username', 190).nullable();
      t.string('username_normalized', 190).nullable().unique();
      t.string('email', 254).nullable();
      t.string('email_normalized', 254).nullable().unique();
      t.boolean('email_verified').notNullable().defaultTo(false);
      t.string('name', 250).nullable();
      // Either a PBKDF2 PHC string or a legacy hash carried over until the next login upgrades it.
      t.string('password_hash', 512).nullable();
      t.string('password_salt', 128).nullable();
      t.boolean('active').notNullable().defaultTo(true);
      t.timestamp('created_at').notNullable().defaultTo(knex.fn.now());
      t.timestamp('updated_at').notNullable().defaultTo(knex.fn.now());
    });
  },
  async down(knex) {
    await knex.schema.dropTable('users');
  },
};
