import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { ThrottleSubjects } from './types.ts';

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

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right];
}

/**
 * One bucket per client: an IPv4 address, or the /64 of an IPv6 one (a single host usually
 * holds a whole /64, so counting single IPv6 addresses would count nothing).
 */
export function addressKey(ip: string | undefined): string {
  const address = (ip ?? '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(address)) return address;
  if (isIPv6(address)) {
    const groups = expandIPv6(address.toLowerCase());
    return `${groups
      .slice(0, 4)
      .map((g) => g.replace(/^0+(?=.)/, ''))
      .join(':')}::/64`;
  }
  return 'unknown';
}

/** The IPv6 /48 of an address (a site's allocation, which holds 65536 /64s); undefined for IPv4. */
export function networkKey(ip: string | undefined): string | undefined {
  const address = (ip ?? '').replace(/%.*$/, '');
  if (!isIPv6(address) || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)) return undefined;
  const groups = expandIPv6(address.toLowerCase());
  return `${groups
    .slice(0, 3)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/48`;
}

/** What an attempt is counted against before the password is checked: the typed identifier and the client. */
export function throttleSubjects(identifier: string, ip: string | undefined): ThrottleSubjects {
  const network = networkKey(ip);
  return { account: accountKey(identifier), address: addressKey(ip), ...(network ? { network } : {}) };
}
