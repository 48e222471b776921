// Client secrets are generated here (256 random bits), never chosen, and only a keyed hash of
// them is ever stored. A fast HMAC-SHA256 is enough because the secret itself is high-entropy:
// there is nothing to brute-force, and a slow password hash would cap the token endpoint at a
// few dozen requests per second. The server key means a leaked client table alone does not
// even allow an offline check of a guessed secret.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OidcAdapterFactory } from './adapters/index.ts';

const PREFIX = '$hmac-sha256$';

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string, key: string): string {
  return PREFIX + createHmac('sha256', key).update(secret, 'utf8').digest('base64url');
}

export function isHashedClientSecret(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX) && value.length > PREFIX.length;
}

/** Constant-time check of a presented secret against a stored hash. */
export function verifyClientSecret(presented: string, stored: string, key: string): boolean {
  if (!isHashedClientSecret(stored)) return false;
  const expected = Buffer.from(stored.slice(PREFIX.length), 'base64url');
  const actual = createHmac('sha256', key).update(presented, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * The adapter factory with every Client record's secret replaced by its hash before it is
 * stored. Dynamic registration hands oidc-provider the generated plaintext (returned once, in the
 * registration response); what reaches the store, and every replica later reads, is the hash.
 */
export function withHashedClientSecrets(factory: OidcAdapterFactory, key: string): OidcAdapterFactory {
  return (model) => {
    const base = factory(model);
    if (model !== 'Client') return base;
    return {
      ...base,
      async upsert(id, payload, expiresIn) {
        const secret = payload.client_secret;
        const stored = typeof secret === 'string' && !isHashedClientSecret(secret) ? { ...payload, client_secret: hashClientSecret(secret, key) } : payload;
        await base.upsert(id, stored, expiresIn);
      },
    };
  };
}
