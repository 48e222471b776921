import { createHmac } from 'node:crypto';
import { secretsEqual } from '../../lib/bearer-auth.ts';

/** One sign-in in flight: what the callback must find again. */
export interface SignInTransaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

export const TRANSACTION_COOKIE = 'gw_signin';
/** Long enough to type a password, short enough that a stolen cookie is soon worthless. */
export const TRANSACTION_TTL_SECONDS = 600;

/**
 * The sign-in transaction in a cookie signed with GATEWAY_AUTH_COOKIE_SECRET (HMAC-SHA256), so any
 * replica can finish a sign-in another one started. Tampering, another key or age past the TTL
 * makes it unreadable. It is not secret from its own browser (the PKCE verifier alone is useless
 * without the code, which only this browser's redirect carries).
 */
export function createTransactionCookies(secret: string) {
  const key = createHmac('sha256', secret).update('gateway sign-in transaction v1').digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url');
  return {
    seal(transaction: SignInTransaction, now = Date.now()): string {
      const payload = Buffer.from(JSON.stringify({ ...transaction, exp: now + TRANSACTION_TTL_SECONDS * 1000 })).toString('base64url');
      return `${payload}.${mac(payload)}`;
    },
    open(value: string | undefined, now = Date.now()): SignInTransaction | undefined {
      if (!value) return undefined;
      const [payload, signature, extra] = value.split('.');
      if (!payload || !signature || extra !== undefined || !secretsEqual(signature, mac(payload))) return undefined;
      try {
        const data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
        const { state, nonce, codeVerifier, returnTo, exp } = data;
        if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string' || typeof returnTo !== 'string') return undefined;
        if (typeof exp !== 'number' || exp <= now) return undefined;
        return { state, nonce, codeVerifier, returnTo };
      } catch {
        return undefined;
      }
    },
  };
}
