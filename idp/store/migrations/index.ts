import type { Migration } from '../../../lib/db.ts';
import { users } from './001-users.ts';
import { passwordMetadata } from './002-password-metadata.ts';
import { signingKeys } from './010-signing-keys.ts';
import { legacyMigrationDeadLetters } from './020-legacy-migration-dead-letters.ts';
import { legacyMigrationCheckpoints } from './021-legacy-migration-checkpoints.ts';
import { legacyOutbox } from './030-legacy-outbox.ts';
import { legacyOutboxDead } from './031-legacy-outbox-dead.ts';
import { pendingRevocations } from './040-pending-revocations.ts';
import { passwordResetAndMail } from './041-password-reset-and-mail.ts';
import { importReceipts } from './060-import-receipts.ts';
import { legacyOutboxFingerprint } from './061-legacy-outbox-fingerprint.ts';
import { backchannelOutbox } from './062-backchannel-outbox.ts';

/**
 * Every schema change of the idp's store, in order. Each must be backward compatible
 * (expand now, contract in a later release) so old and new replicas can run side by side.
 */
export const idpMigrations: Migration[] = [
  users,
  passwordMetadata,
  signingKeys,
  legacyMigrationDeadLetters,
  legacyMigrationCheckpoints,
  legacyOutbox,
  legacyOutboxDead,
  pendingRevocations,
  passwordResetAndMail,
  importReceipts,
  legacyOutboxFingerprint,
  backchannelOutbox,
];
