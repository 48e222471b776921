import { createHmac, hkdfSync } from 'node:crypto';

/**
 * A keyed fingerprint of a legacy row's hash and salt, stored by the idp at import so the batch
 * migration can tell, later, that the legacy row's password changed since (the fingerprints
 * differ). Keyed, because a plain digest of an md5 hash would be an offline cracking oracle for
 * anyone holding the idp's database, long after the user's own hash was upgraded.
 */
export function legacyFingerprint(key: string, hash: string | null, salt: string | null): string {
  const mac = createHmac('sha256', key)
    .update('legacy-hash-v1\0')
    .update(hash ?? '')
    .update('\0')
    .update(salt ?? '');
  return `v1.${mac.digest('base64url')}`;
}

/** LEGACY_FINGERPRINT_KEY, or a key derived from the adapter's bearer secret (never the secret itself). */
export function fingerprintKey(config: { LEGACY_FINGERPRINT_KEY?: string | undefined; LEGACY_ADAPTER_SECRET: string }): string {
  if (config.LEGACY_FINGERPRINT_KEY) return config.LEGACY_FINGERPRINT_KEY;
  return Buffer.from(hkdfSync('sha256', config.LEGACY_ADAPTER_SECRET, 'identity-migration', 'legacy-fingerprint-v1', 32)).toString('base64url');
}
