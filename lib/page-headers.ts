// The headers every HTML page of every service carries, written here only: the CSP allows no
// script at all, and styles and images only from the page's own origin when it has any.

/**
 * A CSP source for the place a form's redirect chain ends. Chromium applies `form-action` to
 * every redirect after a form submission, so the client's redirect URI (or post-logout URI)
 * must be allowed or the final hop to the application is blocked. Only the origin (or, for a
 * native app's private-use scheme, the scheme) is used: it is all CSP can express, and it
 * cannot carry characters that would break out of the header.
 */
export function formTargetSource(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'https:' || url.protocol === 'http:') return url.origin;
  // Private-use URI schemes of native apps (RFC 8252 §7.1), e.g. com.example.app:
  if (/^[a-z][a-z0-9+.-]*:$/i.test(url.protocol)) return url.protocol;
  return undefined;
}

export interface PagePolicy {
  /** The URIs the page's forms may end at (their redirect chains included); 'self' always. */
  formTargets?: readonly (string | undefined)[];
  /** The page loads its stylesheet and images from its own origin; without it, none at all. */
  ownAssets?: boolean;
}

export function contentSecurityPolicy(policy: PagePolicy = {}): string {
  const targets = [...new Set((policy.formTargets ?? []).map(formTargetSource).filter((s): s is string => Boolean(s)))];
  return [
    "default-src 'none'",
    ...(policy.ownAssets ? ["style-src 'self'", "img-src 'self'"] : []),
    `form-action ${["'self'", ...targets].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * The security headers of a page, for a middleware that sets them on every answer of a router
 * (whatever its content type): no script, no framing, never cached, no Referer to other sites.
 */
export function pageSecurityHeaders(policy: PagePolicy = {}): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(policy),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Ids in our URLs (an interaction uid) stay out of Referer headers to other sites.
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/** Header name → value for an HTML page. */
export function pageHeaders(policy: PagePolicy = {}): Record<string, string> {
  return { 'content-type': 'text/html; charset=utf-8', ...pageSecurityHeaders(policy) };
}
