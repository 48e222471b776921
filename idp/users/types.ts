import type { Knex } from '../../lib/db.ts';
import type { PasswordEncoding } from '../../lib/passwords/index.ts';
import type { IdpUser } from '../login/types.ts';

/** A user row with what login needs: only the user store and the login service ever see this. */
export interface StoredUser extends IdpUser {
  legacyId: string | null;
  passwordHash: string | null;
  passwordSalt: string | null;
  /** Registry scheme name of passwordHash, when known. */
  passwordScheme: string | null;
  /** For a bare hex hash copied from the legacy table: the mapping's candidates, in order. */
  passwordCandidates: string[];
  /** How the legacy site encoded passwords; ['utf8'] for everything the idp wrote. */
  passwordEncodings: PasswordEncoding[];
  legacyFingerprint: string | null;
  passwordChangedAt: Date | null;
}

/** A user fetched from the legacy-adapter, to insert with a fresh hash. */
export interface NewLegacyUser {
  legacyId: string;
  username: string | null;
  email: string | null;
  name: string | null;
  passwordHash: string;
  passwordScheme: string;
  /** Only when passwordHash is a legacy hash copied as is (the batch ETL); JIT inserts write PBKDF2. */
  passwordSalt?: string | null;
  passwordCandidates?: readonly string[];
  passwordEncodings?: readonly PasswordEncoding[];
  legacyFingerprint: string | null;
  /** The legacy row's active flag (the batch ETL copies it); the JIT import only meets active users. Default true. */
  active?: boolean;
}

export interface PasswordReplacement {
  userId: string;
  /** The hash that was verified: the write happens only if it is still the stored one. */
  expectedHash: string;
  newHash: string;
  newScheme: string;
}

/** A password the user chose (idp/account/). */
export interface PasswordChange extends PasswordReplacement {
  /**
   * `$2y$` bcrypt of the new password for the legacy site (dual-write): written to the outbox in
   * the same transaction when the user has a legacy id. Absent: no outbox event.
   */
  legacyHash?: string;
  /** The other grants and sessions to revoke: recorded in the same transaction (idp/account/pending-revocations.ts). */
  revocation?: { keepGrantId: string | null; keepSessionId: string | null };
}

/** A password set through a reset link (idp/reset/). */
export interface PasswordReset {
  userId: string;
  newHash: string;
  newScheme: string;
  /** As in PasswordChange: the dual-write event's `$2y$` hash. */
  legacyHash?: string;
  /** Spends the link inside the transaction; false: already used or expired, nothing is written. */
  claim(trx: Knex.Transaction): Promise<boolean>;
}

/**
 * changed: false when the stored hash was no longer `expectedHash`; legacyEventId: the outbox
 * event written, if any; revocationId: the pending revocation recorded, if one was asked for.
 */
export type PasswordChangeOutcome = { changed: false } | { changed: true; legacyEventId: string | null; revocationId: string | null };

/**
 * Test-only interruption points of the password writes: a hook that throws stands for a crash
 * at that step. Injected through createUserStore/createLoginService, never global.
 */
export interface UpgradeHooks {
  /** After the password was verified, before anything is written (login service). */
  afterVerify?(step: 'upgrade' | 'import'): void | Promise<void>;
  /** After the row was written, inside the transaction. */
  afterWrite?(step: 'upgrade' | 'import'): void | Promise<void>;
  /** Just before the transaction commits. */
  beforeCommit?(step: 'upgrade' | 'import'): void | Promise<void>;
}

export interface UserStore {
  /** By username or e-mail, case-insensitive; a username match wins over an e-mail match. */
  findByLogin(identifier: string): Promise<StoredUser | undefined>;
  findById(id: string): Promise<StoredUser | undefined>;
  findByLegacyId(legacyId: string): Promise<StoredUser | undefined>;
  /**
   * Inserts the user unless one with the same legacy id exists, in which case that one is
   * returned untouched (`created: false`): twenty concurrent imports leave one row.
   */
  insertFromLegacy(user: NewLegacyUser): Promise<{ user: StoredUser; created: boolean }>;
  /** Compare-and-set: replaces the hash only if it is still `expectedHash`; false if it was not. */
  replacePasswordHash(replacement: PasswordReplacement): Promise<boolean>;
  /** Users per stored password scheme (null scheme as 'unknown'), for the migration-progress gauge. */
  countByPasswordScheme(): Promise<Map<string, number>>;
}
