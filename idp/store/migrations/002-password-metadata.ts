import type { Migration } from '../../../lib/db.ts';

/**
 * What the idp must know about a stored hash to verify and count it without the legacy
 * adapter: the scheme (for bare hex hashes copied by the ETL, the mapping's candidate list and
 * encodings at import), a keyed fingerprint of the legacy hash (so the batch migration can spot
 * a password changed on the legacy side since), and when the password last changed.
 * Expand-only: every column is nullable, old replicas simply ignore them.
 */
export const passwordMetadata: Migration = {
  name: '002-password-metadata',
  async up(knex) {
    await knex.schema.alterTable('users', (t) => {
      // Registry scheme name of password_hash ('pbkdf2-sha256', 'bcrypt-2y', 'md5(salt.password)', ...).
      t.string('password_scheme', 64).nullable();
      // Comma-separated bare hex candidates, in order, for a bare hex hash; null otherwise.
      t.string('password_candidates', 255).nullable();
      // Comma-separated encodings the legacy site hashed with ('utf8', 'latin1'); null = utf8.
      t.string('password_encodings', 32).nullable();
      t.string('legacy_fingerprint', 128).nullable();
      // When the user last chose a new password (change / reset flows); an upgrade is not one.
      t.timestamp('password_changed_at').nullable();
      // When login last rehashed the same password to PBKDF2 at policy strength.
      t.timestamp('password_rehashed_at').nullable();
      t.index(['password_scheme'], 'users_password_scheme');
    });
  },
  async down(knex) {
    await knex.schema.alterTable('users', (t) => {
      t.dropIndex(['password_scheme'], 'users_password_scheme');
      t.dropColumns('password_scheme', 'password_candidates', 'password_encodings', 'legacy_fingerprint', 'password_changed_at', 'password_rehashed_at');
    });
  },
};
