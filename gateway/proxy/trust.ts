import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../../lib/config.ts';

const named: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']],
  linklocal: [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']],
  uniquelocal: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6']],
};

/**
 * TRUST_PROXY as the gateway reads it: which peers' X-Forwarded-* headers are kept (and
 * appended to) rather than replaced. The express forms that make sense for a front door:
 * `true`, `false`, `loopback`, `linklocal`, `uniquelocal`, addresses and CIDRs, comma-separated.
 */
export function compileTrust(value: string): (address: string | undefined) => boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true') return () => true;
  if (v === 'false' || v === '') return () => false;
  const list = new BlockList();
  for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    const ranges = named[part];
    if (ranges) {
      for (const [net, prefix, family] of ranges) list.addSubnet(net, prefix, family);
      continue;
    }
    const [address = '', bits] = part.split('/');
    const family = isIP(address);
    if (!family || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
      throw new ConfigError([`TRUST_PROXY: the gateway understands true, false, loopback, linklocal, uniquelocal, addresses and CIDRs (comma-separated); got ${JSON.stringify(part)}`]);
    }
    const kind = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, kind);
    else list.addSubnet(address, Number(bits), kind);
  }
  return (address) => {
    if (!address) return false;
    const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
    return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  };
}
