// Client secrets are generated here (256 random bits), never chosen, and only a keyed hash of
// them is ever stored. A fast HMAC-SHA256 is enough because the secret itself is high-entropy:
// there is nothing to brute-force, and a slow password hash would cap the token endpoint at a
// few dozen requests per second. The server key means a leaked client table alone does not
// even allow an offline check of a guessed secret.
//
// The key rotates: a hash reads `$hmac-sha256$<kid>$<mac>`, kid a public fingerprint of the key
// that made it, so a verifier picks that key among the current and previous ones. Hashes made
// before rotation existed (`$hmac-sha256$<mac>`) carry no kid and are tried against every key.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OidcAdapterFactory } from './adapters/index.ts';

const PREFIX = '$hmac-sha256$';
const MAC = /^[A-Za-z0-9_-]{43}$/;
const KID = /^[A-Za-z0-9_-]{8}$/;

/** The keys a stored hash may have been made with: new hashes use `current` only. */
export interface ClientSecretKeys {
  current: string;
  previous?: readonly string[];
}

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A short public fingerprint of a key; the label keeps it unrelated to any other use of the key. */
export function clientSecretKeyId(key: string): string {
  return createHash('sha256').update('idp client secret hmac key id\0', 'utf8').update(key, 'utf8').digest('base64url').slice(0, 8);
}

function mac(secret: string, key: string): Buffer {
  return createHmac('sha256', key).update(secret, 'utf8').digest();
}

export function hashClientSecret(secret: string, key: string): string {
  return `${PREFIX}${clientSecretKeyId(key)}$${mac(secret, key).toString('base64url')}`;
}

/** The parts of a stored hash; kid is absent in hashes made before keys rotated. */
export function parseClientSecretHash(value: unknown): { kid?: string; mac: Buffer } | undefined {
  if (typeof value !== 'string' || !value.startsWith(PREFIX)) return undefined;
  const parts = value.slice(PREFIX.length).split('$');
  if (parts.length === 1 && MAC.test(parts[0] ?? '')) return { mac: Buffer.from(parts[0] ?? '', 'base64url') };
  if (parts.length === 2 && KID.test(parts[0] ?? '') && MAC.test(parts[1] ?? '')) return { kid: parts[0], mac: Buffer.from(parts[1] ?? '', 'base64url') };
  return undefined;
}

export function isHashedClientSecret(value: unknown): value is string {
  return parseClientSecretHash(value) !== undefined;
}

function allKeys(keys: ClientSecretKeys): string[] {
  return [keys.current, ...(keys.previous ?? [])];
}

/** A hash that names a key the configuration does not hold: no secret can ever match it. */
export function hasUnknownClientSecretKey(stored: string, keys: ClientSecretKeys): boolean {
  const parsed = parseClientSecretHash(stored);
  return parsed?.kid !== undefined && !allKeys(keys).some((k) => clientSecretKeyId(k) === parsed.kid);
}

/**
 * Constant-time check of a presented secret against a stored hash. Every candidate key is
 * computed and compared, with no early exit, so the timing does not tell which key matched; the
 * candidates depend only on the stored hash's kid, which is public.
 */
export function verifyClientSecret(presented: string, stored: string, keys: ClientSecretKeys): boolean {
  const parsed = parseClientSecretHash(stored);
  if (!parsed) return false;
  const candidates = allKeys(keys).filter((k) => parsed.kid === undefined || clientSecretKeyId(k) === parsed.kid);
  let matched = false;
  for (const key of candidates) {
    const actual = mac(presented, key);
    matched = (actual.length === parsed.mac.length && timingSafeEqual(actual, parsed.mac)) || matched;
  }
  return matched;
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
