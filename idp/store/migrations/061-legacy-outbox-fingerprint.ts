import type { Migration } from '../../../lib/db.ts';

/**
 * The fingerprint of the legacy hash each relayed password change wrote (idp/dual-write/relay.ts).
 * The batch migration reads legacy rows a moment before the idp decides on them: a row read
 * just before a dual-write landed holds a hash the idp itself wrote earlier, and without this
 * history it looked like a password changed on the legacy side, copied over the newer one
 * (idp/import/plan.ts). A keyed fingerprint, never a hash.
 * Expand-only: a nullable column that older releases neither read nor write.
 */
export const legacyOutboxFingerprint: Migration = {
  name: '061-legacy-outbox-fingerprint',
  async up(knex) {
    await knex.schema.alterTable('legacy_outbox', (t) => {
      t.string('legacy_fingerprint', 128).nullable();
    });
  },
  async down(knex) {
    await knex.schema.alterTable('legacy_outbox', (t) => {
      t.dropColumn('legacy_fingerprint');
    });
  },
};
