// Reset links: a random token goes into the e-mail, only its HMAC into the database
// (password_resets), so a copy of the database opens no account. A link works once and for
// IDP_PASSWORD_RESET_TTL seconds; using one spends every other link of the account too.
import { createHmac, randomBytes } from 'node:crypto';
import type { Knex } from '../../lib/db.ts';

const TABLE = 'password_resets';
/** 32 random bytes, base64url: what issue() makes, and all a lookup ever accepts. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** Spent or expired rows are kept this long after expiry (support questions), then deleted. */
const KEEP_AFTER_EXPIRY_MS = 86_400_000;

export type TokenCheck = { ok: true; userId: string } | { ok: false; reason: 'expired' | 'invalid' };

/** Links not used: still open, and expired unused within the last day (rows older than that are pruned). */
export interface ResetLinkStats {
  open: number;
  expiredUnused: number;
}

export interface ResetTokens {
  /** A new link token for `userId`; the caller puts it in the mail and forgets it. */
  issue(userId: string): Promise<string>;
  /** What a link is worth now, without spending it (the new-password form shows only for a valid one). */
  check(token: string): Promise<TokenCheck>;
  /** Spends the link inside `trx` if it is still valid for `userId`, and every other open link of that user; false if not. */
  claim(trx: Knex.Transaction, token: string, userId: string): Promise<boolean>;
  /** For the metrics, read at scrape time. */
  stats(): Promise<ResetLinkStats>;
}

export function createResetTokens(knex: Knex, options: { key: string; ttlMs: number }): ResetTokens {
  const hashOf = (token: string) => createHmac('sha256', options.key).update(`password-reset:${token}`).digest('hex');
  return {
    async issue(userId) {
      const token = randomBytes(32).toString('base64url');
      const now = Date.now();
      await knex(TABLE).insert({ token_hash: hashOf(token), user_id: userId, created_at: now, expires_at: now + options.ttlMs });
      // Housekeeping on the way: the table holds only recent links.
      await knex(TABLE)
        .where('expires_at', '<', now - KEEP_AFTER_EXPIRY_MS)
        .delete();
      return token;
    },
    async check(token) {
      if (!TOKEN.test(token)) return { ok: false, reason: 'invalid' };
      // Looked up by its HMAC: an index lookup on a keyed hash leaks nothing a timing could use.
      const row = (await knex(TABLE)
        .where({ token_hash: hashOf(token) })
        .first('user_id', 'expires_at', 'used_at')) as { user_id: string; expires_at: unknown; used_at: unknown } | undefined;
      if (!row || (row.used_at !== null && row.used_at !== undefined)) return { ok: false, reason: 'invalid' };
      if (Number(row.expires_at) <= Date.now()) return { ok: false, reason: 'expired' };
      return { ok: true, userId: String(row.user_id) };
    },
    async claim(trx, token, userId) {
      if (!TOKEN.test(token)) return false;
      const now = Date.now();
      const spent = await trx(TABLE)
        .where({ token_hash: hashOf(token), user_id: userId })
        .whereNull('used_at')
        .where('expires_at', '>', now)
        .update({ used_at: now });
      if (spent !== 1) return false;
      await trx(TABLE).where({ user_id: userId }).whereNull('used_at').update({ used_at: now });
      return true;
    },
    async stats() {
      const now = Date.now();
      // Through the expires_at index: only the last day's links, one pass for both counts.
      const row = (await knex(TABLE)
        .whereNull('used_at')
        .where('expires_at', '>', now - KEEP_AFTER_EXPIRY_MS)
        .first(
          knex.raw('sum(case when expires_at > ? then 1 else 0 end) as open_links', [now]),
          knex.raw('sum(case when expires_at <= ? then 1 else 0 end) as expired_links', [now]),
        )) as { open_links: unknown; expired_links: unknown } | undefined;
      return { open: Number(row?.open_links ?? 0), expiredUnused: Number(row?.expired_links ?? 0) };
    },
  };
}
