import type { Migration } from '../../../lib/db.ts';

/**
 * The provider's signing keys. They live here, never in the repository, so every replica reads
 * the same set and a rotation is a row change that each replica picks up by polling.
 *
 * state: `next` (published in JWKS, not signing yet), `active` (signs; one at a time),
 * `retiring` (published so tokens it signed still verify, no longer signs), `retired`
 * (unpublished; the private half is erased).
 */
export const signingKeys: Migration = {
  name: '010-signing-keys',
  async up(knex) {
    await knex.schema.createTable('signing_keys', (t) => {
      t.string('kid', 64).primary();
      t.string('state', 16).notNullable();
      t.string('alg', 16).notNullable();
      t.text('public_jwk').notNullable();
      // Erased on retire: a retired key can never sign again, even from a backup of this row.
      t.text('private_jwk').nullable();
      // Generated automatically on a development start; production refuses to run with one.
      t.boolean('development').notNullable().defaultTo(false);
      // Epoch milliseconds: compared with arithmetic by the rotation rules, identically on
      // SQLite and MariaDB (whose timestamp types differ in zone handling and precision).
      t.bigInteger('created_at').notNullable();
      t.bigInteger('activated_at').nullable();
      t.bigInteger('deactivated_at').nullable();
      t.bigInteger('retired_at').nullable();
      t.bigInteger('updated_at').notNullable();
      t.index(['state']);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('signing_keys');
  },
};
