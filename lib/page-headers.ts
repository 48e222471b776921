// The headers every page the idp renders itself carries. The CSP allows no script at all;
// styles come only from our own stylesheet.

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

export function contentSecurityPolicy(formTargets: readonly (string | undefined)[] = []): string {
  const targets = [...new Set(formTargets.map(formTargetSource).filter((s): s is string => Boolean(s)))];
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    `form-action ${["'self'", ...targets].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Header name → value for an HTML page; `formTargets` are the URIs its forms may end at. */
export function pageHeaders(formTargets: readonly (string | undefined)[] = []): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': contentSecurityPolicy(formTargets),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // The interaction uid is in our URLs: keep it out of Referer headers to other sites.
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
}
