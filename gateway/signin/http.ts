import type { ServerResponse } from 'node:http';
import { escapeHtml } from '../../lib/html.ts';
import { pageHeaders } from '../../lib/page-headers.ts';

/**
 * A small page without scripts (CSP default-src 'none'), never cached. `formTargets` are the
 * origins a form on it may post to (and be redirected to from).
 */
export function sendPage(
  res: ServerResponse,
  status: number,
  title: string,
  message: string,
  options: { form?: { action: string; button: string }; formTargets?: string[]; headers?: Array<[string, string | string[]]> } = {},
): void {
  const form = options.form
    ? `<form method="post" action="${escapeHtml(options.form.action)}"><button type="submit">${escapeHtml(options.form.button)}</button></form>`
    : '';
  const body = `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${form}</body></html>\n`;
  // Appended, not set: a cookie the gateway set before (a canary bucket) must survive.
  for (const [name, value] of options.headers ?? []) res.appendHeader(name, value);
  res.statusCode = status;
  for (const [name, value] of Object.entries(pageHeaders({ formTargets: options.formTargets }))) res.setHeader(name, value);
  res.end(body);
}

/** A redirect that is never cached (its Set-Cookie headers are per browser). */
export function redirect(res: ServerResponse, location: string, cookies: string[] = [], status = 302): void {
  res.statusCode = status;
  if (cookies.length) res.appendHeader('set-cookie', cookies);
  res.setHeader('location', location);
  res.setHeader('cache-control', 'no-store');
  res.end();
}
