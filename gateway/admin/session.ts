import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { secretsEqual } from '../../lib/bearer-auth.ts';

export const SESSION_COOKIE = 'gw_admin';
export const LOGIN_COOKIE = 'gw_admin_login';
const SESSION_TTL_MS = 8 * 3600 * 1000;

export interface AdminSession {
  actor: string;
  nonce: string;
  expires: number;
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Admin page sessions: the cookie holds the actor's name and an expiry, signed with a key
 * derived from GATEWAY_ADMIN_TOKEN (never the token itself). Every replica can check it, and
 * changing the token ends every session. CSRF tokens are MACs of the session's nonce.
 */
export function createAdminSessions(adminToken: string) {
  const key = createHmac('sha256', adminToken).update('gateway admin session v1').digest();
  const mac = (text: string) => createHmac('sha256', key).update(text).digest('base64url');

  return {
    issue(actor: string, now = Date.now()): { value: string; maxAgeSeconds: number } {
      const payload = Buffer.from(JSON.stringify({ a: actor, n: randomBytes(12).toString('base64url'), e: now + SESSION_TTL_MS })).toString('base64url');
      return { value: `${payload}.${mac(`session:${payload}`)}`, maxAgeSeconds: SESSION_TTL_MS / 1000 };
    },
    verify(value: string | undefined, now = Date.now()): AdminSession | undefined {
      if (!value) return undefined;
      const [payload, signature, extra] = value.split('.');
      if (!payload || !signature || extra !== undefined) return undefined;
      if (!secretsEqual(signature, mac(`session:${payload}`))) return undefined;
      try {
        const data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { a?: unknown; n?: unknown; e?: unknown };
        if (typeof data.a !== 'string' || typeof data.n !== 'string' || typeof data.e !== 'number' || data.e <= now) return undefined;
        return { actor: data.a, nonce: data.n, expires: data.e };
      } catch {
        return undefined;
      }
    },
    csrfToken(session: AdminSession): string {
      return mac(`csrf:${session.nonce}`);
    },
    checkCsrf(session: AdminSession, given: unknown): boolean {
      return typeof given === 'string' && secretsEqual(given, mac(`csrf:${session.nonce}`));
    },
    /** Login form CSRF: a random nonce in a short-lived cookie, and its MAC in the form. */
    loginNonce(): string {
      return randomBytes(16).toString('base64url');
    },
    loginCsrf(nonce: string): string {
      return mac(`login:${nonce}`);
    },
    checkLoginCsrf(nonce: string | undefined, given: unknown): boolean {
      return nonce !== undefined && typeof given === 'string' && secretsEqual(given, mac(`login:${nonce}`));
    },
  };
}

export type AdminSessions = ReturnType<typeof createAdminSessions>;
