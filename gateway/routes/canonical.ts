/**
 * One canonical spelling of a request target, so that route matching sees the path the upstream
 * will run. Apache and PHP run `/login.php` for `/%6Cogin.php`, `//login.php`, `/login.php;x` and
 * `/login.php/anything` alike: matched raw, those would miss the `login` route and reach the
 * legacy login through the catch-all after `login` was flipped. Whatever cannot be put in one
 * spelling without guessing how the upstream reads it is refused.
 */
export type CanonicalTarget =
  | {
      ok: true;
      /** What goes upstream: the canonical path and the query exactly as the client sent it. */
      target: string;
      /** The canonical path (no query). */
      path: string;
      /** The path routes match: `path` without trailing path info after a script. */
      routePath: string;
    }
  | { ok: false };

const REFUSED: CanonicalTarget = { ok: false };

/** Characters RFC 3986 calls unreserved: their percent-encoded and plain spellings mean the same. */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Decodes the unreserved characters and upper-cases the other escapes; undefined for an escape
 * that is not two hex digits, or for `%2F`, `%5C` and `%00`: an encoded slash or backslash is a
 * separator to some upstreams and a name character to others, and NUL ends a name in C.
 */
function decodeUnreserved(path: string): string | undefined {
  let out = '';
  let from = 0;
  for (let at = path.indexOf('%'); at !== -1; at = path.indexOf('%', from)) {
    const high = hexValue(path.charCodeAt(at + 1));
    const low = hexValue(path.charCodeAt(at + 2));
    if (high < 0 || low < 0) return undefined;
    const code = high * 16 + low;
    if (code === 0x2f || code === 0x5c || code === 0) return undefined;
    out += path.slice(from, at) + (isUnreserved(code) ? String.fromCharCode(code) : `%${path.slice(at + 1, at + 3).toUpperCase()}`);
    from = at + 3;
  }
  return out + path.slice(from);
}

/**
 * Segment by segment: `;` parameters dropped (Tomcat-style servers ignore them, and `..;` is a
 * dot segment to them), empty segments dropped (`//` is `/` to Apache) but a trailing slash kept,
 * and dot segments refused (the upstream would resolve them to a path another route owns).
 */
function canonicalSegments(path: string): string | undefined {
  const segments = path.split('/');
  const last = segments.length - 1;
  let out = '';
  for (let i = 1; i <= last; i++) {
    let segment = segments[i]!;
    const parameters = segment.indexOf(';');
    if (parameters !== -1) segment = segment.slice(0, parameters);
    if (segment === '.' || segment === '..') return undefined;
    if (segment === '' && i < last) continue;
    out += `/${segment}`;
  }
  return out;
}

/** Anything that could make the path mean something else: escapes, parameters, doubled slashes, dots after a slash. */
const needsWork = /[%;\\]|\/\/|\/\./;

/**
 * Compiles the route file's `scriptSuffixes`: a path segment ending in one of them, with more
 * path after it, is a script run with path info (`/login.php/x` runs login.php on Apache), so
 * routes match the path up to that segment. Compared case-insensitively, as Apache's handler
 * mapping compares extensions.
 */
export function compileCanonicalizer(scriptSuffixes: readonly string[]): (url: string) => CanonicalTarget {
  const escaped = scriptSuffixes.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pathInfo = escaped.length ? new RegExp(`^(.*?[^/](?:${escaped.join('|')}))/`, 'i') : undefined;

  return function canonical(url: string): CanonicalTarget {
    // Origin form only: `*`, `host:port` and absolute URLs route nowhere.
    if (url.charCodeAt(0) !== 47 /* "/" */) return REFUSED;
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (needsWork.test(path)) {
      if (path.includes('\\')) return REFUSED;
      const decoded = path.includes('%') ? decodeUnreserved(path) : path;
      if (decoded === undefined) return REFUSED;
      const segments = canonicalSegments(decoded);
      if (segments === undefined) return REFUSED;
      path = segments;
    }
    if (path.includes('#')) return REFUSED;
    const info = pathInfo?.exec(path);
    return { ok: true, target: q === -1 ? path : path + url.slice(q), path, routePath: info ? info[1]! : path };
  };
}
