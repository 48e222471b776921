import { createHash } from 'node:crypto';
import { addressKey, networkKey } from '../../lib/client-network.ts';
import type { ThrottleSubjects } from './types.ts';

export { addressKey, networkKey };

const digest = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 32);

/**
 * The same account however it is typed, and never the identifier itself in a store key: a
 * throttle key must not become a list of the email addresses people tried. Accents and case
 * are folded as the legacy lookup's collation (utf8mb4_unicode_ci) folds them, so `álice` and
 * `alice` are one count whether or not such an account exists (the resolved account's own
 * count, userKey, catches what folding cannot: a username and its e-mail address).
 */
export function accountKey(identifier: string): string {
  const folded = identifier.normalize('NFKD').replace(/\p{M}/gu, '').normalize('NFKC').trim().toLowerCase();
  return digest(folded);
}

/** The account a login resolved to (see LoginOutcome.account): one count however it was named. */
export function userKey(account: string): string {
  return digest(`user:${account}`);
}

/** What an attempt is counted against before the password is checked: the typed identifier and the client. */
export function throttleSubjects(identifier: string, ip: string | undefined): ThrottleSubjects {
  const network = networkKey(ip);
  return { account: accountKey(identifier), address: addressKey(ip), ...(network ? { network } : {}) };
}
