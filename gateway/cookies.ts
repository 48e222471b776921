import type { IncomingMessage } from 'node:http';

/** A cookie's value from the request, or undefined (the gateway's own pages: admin, sign-in). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** https as the browser sees it: TLS here, or `X-Forwarded-Proto: https` from a TRUST_PROXY peer. */
export function isHttps(req: IncomingMessage, trusted: (address: string | undefined) => boolean): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
  return (
    trusted(req.socket.remoteAddress) &&
    String(req.headers['x-forwarded-proto'] ?? '')
      .split(',')[0]
      ?.trim() === 'https'
  );
}

export interface CookieOptions {
  path: string;
  secure: boolean;
  /** Seconds; 0 expires the cookie; undefined makes a browser-session cookie. */
  maxAge?: number;
  /** Lax (default) when the cookie must come back on a top-level redirect from the idp; Strict for the admin page. */
  sameSite?: 'Lax' | 'Strict';
}

/** A Set-Cookie value for the gateway's own cookies: always HttpOnly (never for scripts). */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  let cookie = `${name}=${value}; Path=${options.path}; HttpOnly; SameSite=${options.sameSite ?? 'Lax'}`;
  if (options.secure) cookie += '; Secure';
  if (options.maxAge !== undefined) cookie += options.maxAge === 0 ? '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT' : `; Max-Age=${options.maxAge}`;
  return cookie;
}
