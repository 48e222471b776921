import type { Knex } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import { uuidv7 } from '../../lib/uuidv7.ts';
import type { PasswordEncoding } from '../../lib/passwords/index.ts';
import { insertPendingRevocation } from '../account/pending-revocations.ts';
import { insertPasswordEvent } from '../dual-write/outbox.ts';
import { normalizeLogin } from './normalize.ts';
import type { NewLegacyUser, PasswordChange, PasswordChangeOutcome, PasswordReset, StoredUser, UpgradeHooks, UserStore } from './types.ts';

export type { NewLegacyUser, PasswordChange, PasswordChangeOutcome, PasswordReplacement, PasswordReset, StoredUser, UpgradeHooks, UserStore } from './types.ts';

type Row = Record<string, unknown>;

const list = (value: unknown): string[] => (typeof value === 'string' && value !== '' ? value.split(',') : []);

// SQLite hands back CURRENT_TIMESTAMP text ("YYYY-MM-DD HH:MM:SS", UTC) or epoch milliseconds,
// MySQL a Date.
function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  const text = String(value);
  return new Date(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
}

/** A users row as the store and the batch import (./batch.ts) read it. */
export function toUser(row: Row): StoredUser {
  const encodings = list(row.password_encodings) as PasswordEncoding[];
  return {
    id: String(row.id),
    username: (row.username as string | null) ?? null,
    email: (row.email as string | null) ?? null,
    emailVerified: Boolean(Number(row.email_verified)),
    name: (row.name as string | null) ?? null,
    active: Boolean(Number(row.active)),
    updatedAt: toDate(row.updated_at) ?? new Date(0),
    legacyId: (row.legacy_id as string | null) ?? null,
    passwordHash: (row.password_hash as string | null) ?? null,
    passwordSalt: (row.password_salt as string | null) ?? null,
    passwordScheme: (row.password_scheme as string | null) ?? null,
    passwordCandidates: list(row.password_candidates),
    passwordEncodings: encodings.length ? encodings : ['utf8'],
    legacyFingerprint: (row.legacy_fingerprint as string | null) ?? null,
    passwordChangedAt: toDate(row.password_changed_at),
  };
}

/**
 * The columns of a user imported from the legacy table, for the fields given (an update from
 * the batch migration passes only what changed). One place spells the row, so the just-in-time
 * import and the batch import write the same thing.
 */
export function legacyUserColumns(user: Partial<NewLegacyUser>): Row {
  const row: Row = {};
  if (user.legacyId !== undefined) row.legacy_id = user.legacyId;
  if (user.username !== undefined) {
    row.username = user.username;
    row.username_normalized = user.username ? normalizeLogin(user.username) || null : null;
  }
  if (user.email !== undefined) {
    row.email = user.email;
    row.email_normalized = user.email ? normalizeLogin(user.email) || null : null;
  }
  if (user.name !== undefined) row.name = user.name;
  if (user.passwordHash !== undefined) row.password_hash = user.passwordHash;
  if (user.passwordSalt !== undefined) row.password_salt = user.passwordSalt;
  if (user.passwordScheme !== undefined) row.password_scheme = user.passwordScheme;
  if (user.passwordCandidates !== undefined) row.password_candidates = user.passwordCandidates.length ? user.passwordCandidates.join(',') : null;
  if (user.passwordEncodings !== undefined) row.password_encodings = user.passwordEncodings.length ? user.passwordEncodings.join(',') : null;
  if (user.legacyFingerprint !== undefined) row.legacy_fingerprint = user.legacyFingerprint;
  if (user.active !== undefined) row.active = user.active;
  return row;
}

/**
 * A complete new row: a fresh subject, e-mail unverified, active unless the legacy row says
 * otherwise. The subject is a UUIDv7, so that copying millions of users appends to the primary
 * key instead of scattering across it; its first 48 bits tell when the idp created the account
 * (not when the legacy one was), which the `sub` of any OIDC provider may. Ids written before
 * (UUIDv4) are never changed: they are the `sub` of tokens already issued.
 */
export function newLegacyUserRow(user: NewLegacyUser): Row {
  return {
    id: uuidv7(),
    email_verified: false,
    password_salt: null,
    password_candidates: null,
    password_encodings: null,
    active: true,
    ...legacyUserColumns(user),
  };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

// InnoDB may pick one of several concurrent inserts of the same unique key as a deadlock victim.
const isDeadlock = (error: unknown): boolean => (error as { code?: string }).code === 'ER_LOCK_DEADLOCK';

/** The columns a freshly written hash replaces: nothing of the legacy format survives it. */
function newHashColumns(newHash: string, newScheme: string): Row {
  return { password_hash: newHash, password_scheme: newScheme, password_salt: null, password_candidates: null, password_encodings: null };
}

/** The dual-write event of a new password, when the user is linked to a legacy row (read under the row lock the update holds). */
async function queueLegacyWrite(trx: Knex.Transaction, userId: string, legacyHash: string | undefined): Promise<string | null> {
  if (legacyHash === undefined) return null;
  const row = (await trx('users').where({ id: userId }).first('legacy_id')) as Row | undefined;
  const legacyId = (row?.legacy_id as string | null | undefined) ?? null;
  if (legacyId === null) return null;
  return insertPasswordEvent(trx, { userId, legacyId, legacyHash });
}

/** The store as the idp itself uses it: also the self-service password change (idp/account/). */
export interface IdpUserStore extends UserStore {
  /**
   * Compare-and-set like replacePasswordHash, stamping password_changed_at: the user chose a new
   * password. With `legacyHash`, a user linked to a legacy id also gets a dual-write outbox
   * event, in the same transaction.
   */
  changePassword(change: PasswordChange): Promise<PasswordChangeOutcome>;
  /**
   * A password set through a reset link, with no old one to compare: `claim` spends the link in
   * the same transaction (false: nothing is written, `changed: false`). Dual-written like a change.
   */
  resetPassword(reset: PasswordReset): Promise<PasswordChangeOutcome>;
}

export interface UserStoreOptions {
  logger?: Logger;
  hooks?: UpgradeHooks;
}

/** The idp's users table (knex, SQLite or MySQL/MariaDB). */
export function createUserStore(knex: Knex, options: UserStoreOptions = {}): IdpUserStore {
  const { logger, hooks = {} } = options;
  const users = () => knex('users');

  async function findBy(column: string, value: string): Promise<StoredUser | undefined> {
    const row = (await users().where(column, value).first()) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  /** Login keys another row already holds: they are left off the new row rather than failing the import. */
  async function takenKeys(row: Row): Promise<string[]> {
    const taken: string[] = [];
    for (const column of ['username_normalized', 'email_normalized']) {
      const value = row[column];
      if (typeof value === 'string' && (await users().where(column, value).first('id'))) taken.push(column);
    }
    return taken;
  }

  return {
    async findByLogin(identifier) {
      const key = normalizeLogin(identifier);
      if (key === '') return undefined;
      const rows = (await users().where('username_normalized', key).orWhere('email_normalized', key).limit(2)) as Row[];
      const row = rows.find((r) => r.username_normalized === key) ?? rows[0];
      return row ? toUser(row) : undefined;
    },
    findById: (id) => findBy('id', id),
    findByLegacyId: (legacyId) => findBy('legacy_id', legacyId),

    async insertFromLegacy(user) {
      const row = newLegacyUserRow(user);
      let lastError: unknown;
      for (let attempt = 0; attempt < 5; attempt++) {
        const existing = await findBy('legacy_id', user.legacyId);
        if (existing) return { user: existing, created: false };
        try {
          await knex.transaction(async (trx) => {
            await trx('users').insert(row);
            await hooks.afterWrite?.('import');
            await hooks.beforeCommit?.('import');
          });
          const created = await findBy('id', String(row.id));
          if (!created) throw new Error('inserted user row is not readable');
          return { user: created, created: true };
        } catch (error) {
          if (!isUniqueViolation(error) && !isDeadlock(error)) throw error;
          lastError = error;
          // Another login imported the same legacy user first: that row is the answer.
          if (await findBy('legacy_id', user.legacyId)) continue;
          // Otherwise an unrelated user holds this username or e-mail (legacy sign-ups could share
          // an e-mail): import without that login key rather than lock the user out.
          for (const column of await takenKeys(row)) {
            logger?.warn({ legacyId: user.legacyId, key: column }, 'login key already taken in the idp; imported without it');
            row[column] = null;
          }
        }
      }
      throw lastError;
    },

    async replacePasswordHash({ userId, expectedHash, newHash, newScheme }) {
      return knex.transaction(async (trx) => {
        // The old hash is replaced in the same statement that writes the new one, and only if it
        // is still the one that was verified: a crash leaves one or the other, never neither.
        const changed = await trx('users')
          .where({ id: userId, password_hash: expectedHash })
          .update({
            ...newHashColumns(newHash, newScheme),
            password_rehashed_at: new Date(),
          });
        if (changed === 0) return false;
        await hooks.afterWrite?.('upgrade');
        await hooks.beforeCommit?.('upgrade');
        return true;
      });
    },

    async changePassword({ userId, expectedHash, newHash, newScheme, legacyHash, revocation }) {
      return knex.transaction(async (trx): Promise<PasswordChangeOutcome> => {
        // One statement: the old password stops working exactly when the new one starts.
        const changed = await trx('users')
          .where({ id: userId, password_hash: expectedHash })
          .update({
            ...newHashColumns(newHash, newScheme),
            password_changed_at: new Date(),
          });
        if (changed === 0) return { changed: false };
        const revocationId = revocation ? await insertPendingRevocation(trx, { accountId: userId, ...revocation }) : null;
        return { changed: true, legacyEventId: await queueLegacyWrite(trx, userId, legacyHash), revocationId };
      });
    },

    async resetPassword({ userId, newHash, newScheme, legacyHash, claim }) {
      return knex.transaction(async (trx): Promise<PasswordChangeOutcome> => {
        // The link is spent in the same transaction that uses it: two tabs cannot both reset.
        if (!(await claim(trx))) return { changed: false };
        const changed = await trx('users')
          .where({ id: userId })
          .update({ ...newHashColumns(newHash, newScheme), password_changed_at: new Date() });
        if (changed === 0) throw new Error('the user of a password reset is gone');
        // Every grant and session goes, none kept: recorded here, so a Redis failing after the
        // commit delays the revocation (revocation-retrier.ts) instead of losing it.
        const revocationId = await insertPendingRevocation(trx, { accountId: userId, keepGrantId: null, keepSessionId: null });
        return { changed: true, legacyEventId: await queueLegacyWrite(trx, userId, legacyHash), revocationId };
      });
    },

    async countByPasswordScheme() {
      const rows = (await users().select('password_scheme').count({ n: '*' }).whereNotNull('password_hash').groupBy('password_scheme')) as Row[];
      return new Map(rows.map((r) => [(r.password_scheme as string | null) ?? 'unknown', Number(r.n)]));
    },
  };
}
