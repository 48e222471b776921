import { createSealer } from '../sealed.ts';

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
  const sealer = createSealer(secret, 'gateway sign-in transaction v1');
  return {
    seal(transaction: SignInTransaction, now = Date.now()): string {
      return sealer.seal({ ...transaction }, now + TRANSACTION_TTL_SECONDS * 1000);
    },
    open(value: string | undefined, now = Date.now()): SignInTransaction | undefined {
      const data = sealer.open(value, now);
      if (!data) return undefined;
      const { state, nonce, codeVerifier, returnTo } = data;
      if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string' || typeof returnTo !== 'string') return undefined;
      return { state, nonce, codeVerifier, returnTo };
    },
  };
}
