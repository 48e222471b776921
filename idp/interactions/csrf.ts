// A per-interaction CSRF token: an HMAC of the interaction uid. It needs no storage, is the
// same on every replica that shares the secret, and is worthless for any other interaction.
import { createHmac } from 'node:crypto';
import { secretsEqual } from '../../lib/bearer-auth.ts';

export interface CsrfTokens {
  issue(uid: string): string;
  verify(uid: string, token: unknown): boolean;
}

export function createCsrfTokens(secret: string): CsrfTokens {
  if (!secret) throw new Error('the interaction CSRF secret is empty');
  const issue = (uid: string) => createHmac('sha256', secret).update(`interaction-csrf:${uid}`).digest('base64url');
  return {
    issue,
    verify(uid, token) {
      return typeof token === 'string' && token !== '' && secretsEqual(token, issue(uid));
    },
  };
}
