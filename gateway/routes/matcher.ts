import type { RouteDefinition } from './file.ts';

interface CompiledRoute<R> {
  route: R;
  exact: Set<string>;
  prefixes: string[];
  matchesAll: boolean;
  methods: Set<string> | undefined;
}

export type MatchResult<R> = { ok: true; route: R } | { ok: false; reason: 'no_route' };

/**
 * Compiles the route table once; `match` is then a few set look-ups and string prefix checks
 * per route, in file order (the first route that matches wins).
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
    return { route, exact, prefixes, matchesAll, methods: methods ? new Set(methods) : undefined };
  });

  /** `path` is a canonical route path (canonical.ts): no query, escapes, dot segments or path info. */
  return function match(method: string, path: string): MatchResult<R> {
    for (const c of compiled) {
      if (c.methods && !c.methods.has(method)) continue;
      if (c.matchesAll || c.exact.has(path)) return { ok: true, route: c.route };
      for (const prefix of c.prefixes) if (path.startsWith(prefix)) return { ok: true, route: c.route };
    }
    return { ok: false, reason: 'no_route' };
  };
}
