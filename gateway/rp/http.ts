import type { IncomingMessage, ServerResponse } from 'node:http';

/** A cookie's value from the request, or undefined. */
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
  return trusted(req.socket.remoteAddress) && String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() === 'https';
}

export interface CookieOptions {
  path: string;
  secure: boolean;
  /** Seconds; 0 expires the cookie; undefined makes a browser-session cookie. */
  maxAge?: number;
}

/** HttpOnly and SameSite=Lax always: the cookie must come back on the idp's top-level redirect, never to scripts. */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  let cookie = `${name}=${value}; Path=${options.path}; HttpOnly; SameSite=Lax`;
  if (options.secure) cookie += '; Secure';
  if (options.maxAge !== undefined) cookie += options.maxAge === 0 ? '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT' : `; Max-Age=${options.maxAge}`;
  return cookie;
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => escapes[c]!);

/**
 * A small page without scripts (CSP default-src 'none'), never cached. `formTargets` are the
 * origins a form on it may post to (and be redirected to from).
 */
export function sendPage(res: ServerResponse, status: number, title: string, message: string, options: { form?: { action: string; button: string }; formTargets?: string[]; headers?: Array<[string, string | string[]]> } = {}): void {
  const form = options.form ? `<form method="post" action="${escapeHtml(options.form.action)}"><button type="submit">${escapeHtml(options.form.button)}</button></form>` : '';
  const body = `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${form}</body></html>\n`;
  for (const [name, value] of options.headers ?? []) res.setHeader(name, value);
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-security-policy', `default-src 'none'; form-action ${['\'self\'', ...(options.formTargets ?? [])].join(' ')}; frame-ancestors 'none'`);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.end(body);
}

/** A redirect that is never cached (its Set-Cookie headers are per browser). */
export function redirect(res: ServerResponse, location: string, cookies: string[] = [], status = 302): void {
  res.statusCode = status;
  if (cookies.length) res.setHeader('set-cookie', cookies);
  res.setHeader('location', location);
  res.setHeader('cache-control', 'no-store');
  res.end();
}
