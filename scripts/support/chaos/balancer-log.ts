// The balancer's own count of what went through it, from nginx's access log (the shipped
// template's `upstreams` format): requests per kind of path, how many failed (a 5xx, or the
// client gone before the answer: 499), and how many nginx passed on to another replica after
// an error (more than one upstream address on the line).
export interface RequestCounts {
  requests: number;
  failed: number;
  passedOn: number;
}

const LINE = /"(\S+) (\S+)" (\d{3}) \S+ upstream=(.*) status=/;

/** What a path is, for counting: the part of the site it belongs to. */
export function pathKind(path: string): string {
  const p = path.split('?')[0]!;
  if (p.startsWith('/admin/')) return 'admin API';
  if (p.startsWith('/api/')) return 'API';
  if (p.startsWith('/token')) return 'token';
  if (p === '/auth/login' || p === '/auth/callback' || p === '/auth/logout') return 'gateway sign-in';
  if (p === '/auth' || p.startsWith('/auth/') || p.startsWith('/interaction/')) return 'idp pages';
  if (p.startsWith('/account/')) return 'idp account';
  if (p === '/jwks' || p.startsWith('/.well-known/')) return 'keys, discovery';
  if (p.startsWith('/internal/')) return 'idp internal';
  return 'legacy pages';
}

export function countRequests(log: string): Map<string, RequestCounts> {
  const counts = new Map<string, RequestCounts>();
  for (const line of log.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, , path, status, upstreams] = match;
    const kind = pathKind(path!);
    let c = counts.get(kind);
    if (!c) counts.set(kind, (c = { requests: 0, failed: 0, passedOn: 0 }));
    c.requests++;
    if (Number(status) >= 500 || status === '499') c.failed++;
    if (upstreams!.includes(',')) c.passedOn++;
  }
  return counts;
}

export function formatCounts(title: string, counts: Map<string, RequestCounts>): string {
  const rows = [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, c]) => `  ${kind.padEnd(16)} ${String(c.requests).padStart(9)} ${String(c.failed).padStart(7)} ${String(c.passedOn).padStart(10)}`);
  return [title, `  ${'kind'.padEnd(16)} ${'requests'.padStart(9)} ${'failed'.padStart(7)} ${'passed on'.padStart(10)}`, ...rows].join('\n');
}

export function totalFailed(counts: Map<string, RequestCounts>): number {
  return [...counts.values()].reduce((sum, c) => sum + c.failed, 0);
}
