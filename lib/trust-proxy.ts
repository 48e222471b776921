import { BlockList, isIP } from 'node:net';

const named: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  linklocal: [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ],
  uniquelocal: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
};

export type TrustProxy = { ok: true; trusted: (address: string | undefined) => boolean } | { ok: false; problem: string };

/**
 * TRUST_PROXY as every service reads it: which peers' X-Forwarded-* headers are believed. The
 * express forms that make sense for a front door: `true`, `false`, `loopback`, `linklocal`,
 * `uniquelocal`, addresses and CIDRs, comma-separated. Anything else is a problem to report at
 * start (the value decides whose word on a client's address and scheme is taken).
 */
export function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim().toLowerCase();
  if (v === 'true') return { ok: true, trusted: () => true };
  if (v === 'false' || v === '') return { ok: true, trusted: () => false };
  const list = new BlockList();
  const problems: string[] = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    const ranges = named[part];
    if (ranges) {
      for (const [net, prefix, family] of ranges) list.addSubnet(net, prefix, family);
      continue;
    }
    const [address = '', bits, extra] = part.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits))) {
      problems.push(JSON.stringify(part));
      continue;
    }
    const kind = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, kind);
    else list.addSubnet(address, Number(bits), kind);
  }
  if (problems.length) {
    return {
      ok: false,
      problem: `not an address, a CIDR or one of loopback, linklocal, uniquelocal: ${problems.join(', ')} (true, false, or a comma-separated list of those; name exactly the proxies in front of this service)`,
    };
  }
  return {
    ok: true,
    trusted: (address) => {
      if (!address) return false;
      const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
      return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** The predicate for a TRUST_PROXY value the configuration has already validated. */
export function compileTrust(value: string): (address: string | undefined) => boolean {
  const parsed = parseTrustProxy(value);
  if (!parsed.ok) throw new Error(`TRUST_PROXY: ${parsed.problem}`);
  return parsed.trusted;
}
