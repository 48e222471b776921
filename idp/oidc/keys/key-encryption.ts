// Encryption at rest of the signing keys' private halves. A copy of the database (a backup, a
// replica, a dump sent with a bug report) must not be enough to sign tokens: that also takes the
// key-encryption key (KEK), which lives in configuration only.
//
// Stored form: `kek1.<kek id>.<iv>.<ciphertext>.<tag>` (base64url), AES-256-GCM whose additional
// authenticated data is the row's kid, so a ciphertext copied into another row does not decrypt.
// A value starting with `{` is a plaintext JWK written before encryption existed.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../../../lib/config.ts';

const PREFIX = 'kek1';
const AAD_LABEL = 'idp signing key ';

interface Kek {
  id: string;
  key: Buffer;
}

/** The private JWK of row `kid` cannot be decrypted with any configured KEK. */
export class KeyDecryptionError extends ConfigError {
  readonly kid: string;
  constructor(kid: string, why: string) {
    super([
      `IDP_KEY_ENCRYPTION_KEY: signing key ${kid} ${why}; set the key-encryption key it was written with ` +
        '(or list it in IDP_KEY_ENCRYPTION_KEYS_PREVIOUS while rotating)',
    ]);
    this.kid = kid;
  }
}

function deriveKek(secret: string): Kek {
  // The secret is operator text of any shape; HKDF with purpose labels makes it a 256-bit key,
  // and a separate, non-reversible id lets a row say which KEK wrote it.
  const key = Buffer.from(hkdfSync('sha256', secret, '', 'identity-migration idp signing-key encryption v1', 32));
  const id = Buffer.from(hkdfSync('sha256', secret, '', 'identity-migration idp signing-key encryption id v1', 6)).toString('base64url');
  return { id, key };
}

export interface KeyCipher {
  /** Encrypts with the current KEK. */
  encrypt(kid: string, privateJwk: string): string;
  /** The plaintext JWK text; `current` is false for legacy plaintext or a previous KEK. */
  decrypt(kid: string, stored: string): { privateJwk: string; current: boolean };
}

export interface KeyCipherOptions {
  current: string;
  /** Older KEKs, read-only: rows they wrote still load until `idm keys reencrypt` rewrites them. */
  previous?: readonly string[];
}

export function createKeyCipher(options: KeyCipherOptions): KeyCipher {
  const current = deriveKek(options.current);
  const all = [current, ...(options.previous ?? []).map(deriveKek)];
  const aad = (kid: string) => Buffer.from(AAD_LABEL + kid, 'utf8');
  return {
    encrypt(kid, privateJwk) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(aad(kid));
      const ciphertext = Buffer.concat([cipher.update(privateJwk, 'utf8'), cipher.final()]);
      return [PREFIX, current.id, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    decrypt(kid, stored) {
      if (stored.startsWith('{')) return { privateJwk: stored, current: false };
      const parts = stored.split('.');
      if (parts.length !== 5 || parts[0] !== PREFIX) throw new KeyDecryptionError(kid, 'is stored in an unknown format');
      const [, id, iv, ciphertext, tag] = parts as [string, string, string, string, string];
      // Ids can collide (6 bytes), so every KEK with the id is tried; GCM tells the right one.
      for (const kek of all.filter((k) => k.id === id)) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(iv, 'base64url'));
          decipher.setAAD(aad(kid));
          decipher.setAuthTag(Buffer.from(tag, 'base64url'));
          const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
          return { privateJwk: plain, current: kek === current };
        } catch {
          // Wrong key, or a ciphertext written for another row: try the next candidate.
        }
      }
      throw new KeyDecryptionError(
        kid,
        all.some((k) => k.id === id)
          ? 'does not decrypt: its ciphertext is damaged or belongs to another row'
          : 'was encrypted with a key-encryption key that is not configured',
      );
    },
  };
}

/** The cipher the idp and the ops command build from IDP_KEY_ENCRYPTION_KEY(S_PREVIOUS). */
export function keyCipherFromConfig(config: { IDP_KEY_ENCRYPTION_KEY: string; IDP_KEY_ENCRYPTION_KEYS_PREVIOUS: readonly string[] }): KeyCipher {
  return createKeyCipher({ current: config.IDP_KEY_ENCRYPTION_KEY, previous: config.IDP_KEY_ENCRYPTION_KEYS_PREVIOUS });
}
