import { randomBytes } from 'node:crypto';
import { secretsEqual } from '../../lib/bearer-auth.ts';
import { createSealer } from '../sealed.ts';

export const SESSION_COOKIE = 'gw_admin';
export const LOGIN_COOKIE = 'gw_admin_login';
const SESSION_TTL_MS = 8 * 3600 * 1000;

export interface AdminSession {
  actor: string;
  nonce: string;
  expires: number;
}

/**
 * Admin page sessions: the cookie holds the actor's name and an expiry, signed with a key
 * derived from GATEWAY_ADMIN_TOKEN (never the token itself). Every replica can check it, and
 * changing the token ends every session. CSRF tokens are MACs of the session's nonce.
 */
export function createAdminSessions(adminToken: string) {
  const sealer = createSealer(adminToken, 'gateway admin session v1');
  const mac = sealer.mac;

  return {
    issue(actor: string, now = Date.now()): { value: string; maxAgeSeconds: number } {
      return { value: sealer.seal({ a: actor, n: randomBytes(12).toString('base64url') }, now + SESSION_TTL_MS), maxAgeSeconds: SESSION_TTL_MS / 1000 };
    },
    verify(value: string | undefined, now = Date.now()): AdminSession | undefined {
      const data = sealer.open(value, now);
      if (!data || typeof data.a !== 'string' || typeof data.n !== 'string') return undefined;
      return { actor: data.a, nonce: data.n, expires: data.exp as number };
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
