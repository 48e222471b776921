import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { ThrottleSubjects } from './types.ts';

/**
 * The same account however it is typed, and never the identifier itself in a store key: a
 * throttle key must not become a list of the email addresses people tried.
 */
export function accountKey(identifier: string): string {
  const normalised = identifier.normalize('NFKC').trim().toLowerCase();
  return createHash('sha256').update(normalised).digest('base64url').slice(0, 32);
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
    return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
  }
  return 'unknown';
}

export function throttleSubjects(identifier: string, ip: string | undefined): ThrottleSubjects {
  return { account: accountKey(identifier), address: addressKey(ip) };
}
