function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

// Each of these is a way to make a path that looks local resolve, or be re-read by a browser or a
// proxy that decodes once more, as `//host` or `/\host`: a dot segment (`/.//host` normalises to
// `//host`), its percent-encoded form, an encoded slash or backslash, an encoded control character.
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|\?|#|$)/i;
const ENCODED_SEPARATOR = /%(?:2f|5c)/i;
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;

/** A local path as a browser reads a Location: one leading slash, then not a slash or backslash. */
function isLocalPath(value: string): boolean {
  return value.startsWith('/') && value[1] !== '/' && value[1] !== '\\';
}

/** True when `value` resolves against `origin` to `origin` itself, without throwing. */
function staysOn(value: string, origin: string): boolean {
  const resolved = URL.parse(value, origin);
  return resolved !== null && resolved.origin === origin;
}

/**
 * Where a sign-in may send the browser back to: a path on this site, never another origin.
 * Refuses `//host`, `/\host` (browsers read a backslash as a slash), schemes, dot segments,
 * encoded slashes and backslashes, control characters (raw or encoded) and anything that resolves
 * off `origin`; the normalised result is held to the same rules, since that is what the browser
 * gets. Returns the normalised path (path, query, fragment), or undefined.
 */
export function safeReturnTo(value: string | null | undefined, publicOrigin: string): string | undefined {
  if (value === null || value === undefined || value === '') return '/';
  if (value.length > 2048 || !isLocalPath(value) || value.includes('\\') || hasControlCharacter(value)) return undefined;
  const path = pathOf(value);
  if (DOT_SEGMENT.test(path) || ENCODED_SEPARATOR.test(path) || ENCODED_CONTROL.test(value)) return undefined;
  const origin = new URL(publicOrigin).origin;
  const resolved = URL.parse(value, origin);
  if (resolved === null || resolved.origin !== origin) return undefined;
  const result = `${resolved.pathname}${resolved.search}${resolved.hash}`;
  if (!isLocalPath(result) || result.includes('\\') || !staysOn(result, origin)) return undefined;
  return result;
}

/** The path part (before `?` or `#`), where dot segments mean something. */
function pathOf(value: string): string {
  const end = value.search(/[?#]/);
  return end === -1 ? value : value.slice(0, end);
}
