function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Where a sign-in may send the browser back to: a path on this site, never another origin.
 * Refuses `//host`, `/\host` (browsers read a backslash as a slash), schemes, control characters
 * and anything that resolves off `origin`. Returns the normalised path (path, query, fragment),
 * or undefined.
 */
export function safeReturnTo(value: string | null | undefined, origin: string): string | undefined {
  if (value === null || value === undefined || value === '') return '/';
  if (value.length > 2048 || !value.startsWith('/') || value.startsWith('//') || value.includes('\\') || hasControlCharacter(value)) return undefined;
  let resolved: URL;
  try {
    resolved = new URL(value, origin);
  } catch {
    return undefined;
  }
  if (resolved.origin !== new URL(origin).origin) return undefined;
  return `${resolved.pathname}${resolved.search}${resolved.hash}`;
}
