// The unit a client is counted in: an IPv4 address, or the /64 of an IPv6 one, and the /48 around
// it. One owner for every budget keyed by client (the idp's login throttle, the gateway's shadow
// login checks): counting single IPv6 addresses would count nothing, since one host holds a /64.
import { isIPv4, isIPv6 } from 'node:net';

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
