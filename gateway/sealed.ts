import { createHmac } from 'node:crypto';
import { secretsEqual } from '../lib/bearer-auth.ts';

/**
 * Small signed values for the gateway's own cookies (the admin page session, the sign-in
 * transaction): JSON with an expiry, base64url, and an HMAC-SHA256 under a key derived from a
 * secret for one purpose. Any replica can read what another wrote; another secret, a changed byte
 * or an expiry in the past makes a value unreadable. Signed, not encrypted: nothing in them may be
 * secret from the browser that holds them.
 */
export function createSealer(secret: string, purpose: string) {
  const key = createHmac('sha256', secret).update(purpose).digest();
  /** A MAC under the same key; callers prefix what they sign (`csrf:`, ...) so no two uses collide. */
  const mac = (text: string) => createHmac('sha256', key).update(text).digest('base64url');
  return {
    mac,
    seal(data: Record<string, unknown>, expiresAt: number): string {
      const payload = Buffer.from(JSON.stringify({ ...data, exp: expiresAt })).toString('base64url');
      return `${payload}.${mac(`seal:${payload}`)}`;
    },
    /** The sealed data (with `exp`), or undefined when the value is absent, tampered with or expired. */
    open(value: string | undefined, now = Date.now()): Record<string, unknown> | undefined {
      if (!value) return undefined;
      const [payload, signature, extra] = value.split('.');
      if (!payload || !signature || extra !== undefined || !secretsEqual(signature, mac(`seal:${payload}`))) return undefined;
      try {
        const data: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
        if (typeof data !== 'object' || data === null) return undefined;
        const exp = (data as { exp?: unknown }).exp;
        return typeof exp === 'number' && exp > now ? (data as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
