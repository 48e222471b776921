import type { RouteDefinition } from './file.ts';

interface CompiledRoute<R> {
  route: R;
  exact: Set<string>;
  prefixes: string[];
  matchesAll: boolean;
  methods: Set<string> | undefined;
}

export type MatchResult<R> =
  | { ok: true; route: R }
  | { ok: false; reason: 'no_route' }
  /** A route named the path but not the method, and nothing as specific takes it: `allow` lists what would be. */
  | { ok: false; reason: 'method_not_allowed'; allow: string };

/** How closely a route's paths name `path`: exact beats any prefix, a longer prefix a shorter, `/*` comes last; -1: not at all. */
function specificity<R>(c: CompiledRoute<R>, path: string): number {
  if (c.exact.has(path)) return Number.MAX_SAFE_INTEGER;
  let best = -1;
  for (const prefix of c.prefixes) if (prefix.length > best && path.startsWith(prefix)) best = prefix.length;
  if (best === -1 && c.matchesAll) best = 0;
  return best;
}

/** HEAD is GET without the body (RFC 9110 9.3.2): a route that takes GET takes HEAD. */
function takes(methods: Set<string> | undefined, method: string): boolean {
  return methods === undefined || methods.has(method) || (method === 'HEAD' && methods.has('GET'));
}

/**
 * Compiles the route table once; `match` is then a few set look-ups and string prefix checks
 * per route, in file order (the first route that matches wins).
 *
 * A route whose paths name the request's path but whose `methods` leave its method out lets a
 * later route take it only when that route names the path as closely (the same exact path, or
 * a prefix at least as long). Otherwise the request would fall through to a broader route, the
 * catch-all, which goes to legacy: `PUT /login.php` (PHP runs a script for any method, and one
 * reading `$_REQUEST` takes its credentials from the query) would reach the legacy login after
 * `login` was flipped. Such a request is refused (405, with the methods that would be taken).
 */
export function compileMatcher<R>(routes: readonly R[], patternsOf: (route: R) => Pick<RouteDefinition, 'paths' | 'methods'>) {
  const compiled: CompiledRoute<R>[] = routes.map((route) => {
    const { paths, methods } = patternsOf(route);
    const exact = new Set<string>();
    const prefixes: string[] = [];
    let matchesAll = false;
    for (const pattern of paths) {
      if (pattern === '/*') matchesAll = true;
      else if (pattern.endsWith('/*')) {
        // "/api/*" owns "/api" itself as well as everything under "/api/".
        exact.add(pattern.slice(0, -2));
        prefixes.push(pattern.slice(0, -1));
      } else exact.add(pattern);
    }
    return { route, exact, prefixes, matchesAll, methods: methods ? new Set(methods.map((m) => m.toUpperCase())) : undefined };
  });

  /** `path` is a canonical route path (canonical.ts): no query, escapes, dot segments or path info. */
  return function match(method: string, path: string): MatchResult<R> {
    let refusedAt = -1;
    let allow: Set<string> | undefined;
    for (const c of compiled) {
      if (c.methods === undefined && refusedAt === -1) {
        // The common case (no method list, nothing refused yet): no need to rank the match.
        if (c.matchesAll || c.exact.has(path)) return { ok: true, route: c.route };
        for (const prefix of c.prefixes) if (path.startsWith(prefix)) return { ok: true, route: c.route };
        continue;
      }
      const closeness = specificity(c, path);
      if (closeness === -1) continue;
      if (!takes(c.methods, method)) {
        if (closeness > refusedAt) refusedAt = closeness;
        allow ??= new Set();
        for (const m of c.methods!) allow.add(m);
        if (c.methods!.has('GET')) allow.add('HEAD');
        continue;
      }
      if (closeness < refusedAt) return { ok: false, reason: 'method_not_allowed', allow: [...allow!].join(', ') };
      return { ok: true, route: c.route };
    }
    if (allow) return { ok: false, reason: 'method_not_allowed', allow: [...allow].join(', ') };
    return { ok: false, reason: 'no_route' };
  };
}
