// Keeps a running Provider's signing keys equal to the published rows of `signing_keys`, so a
// rotation done with the ops command reaches every replica within one poll, without a restart.
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import type { Knex } from '../../../lib/db.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { KeyCipher } from './key-encryption.ts';
import { encryptStoredKeys, ensureDevelopmentKey, loadPublishedKeys, publishedFingerprint, type PublishedKeys } from './key-store.ts';

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

export interface KeyRingOptions {
  /** Generate a development key when there is no active one (never in production). */
  development: boolean;
  pollMs: number;
  logger: Logger;
  /** Encrypts and decrypts the private halves (IDP_KEY_ENCRYPTION_KEY). */
  cipher: KeyCipher;
}

export interface KeyRing {
  /** The JWKS to construct the Provider with. */
  readonly initial: PublishedKeys;
  readonly current: PublishedKeys;
  /** Starts polling and swapping `provider`'s keys on change. */
  attach(provider: object): void;
  /** One poll now (tests and the poll timer use it); resolves true when the keys changed. */
  refresh(): Promise<boolean>;
  stop(): void;
}

function check(keys: PublishedKeys, development: boolean): void {
  if (!keys.activeKid) {
    throw new SigningKeyError('no active signing key in the database: run `idm keys add-next` then `idm keys promote`');
  }
  if (!development && keys.developmentKids.length) {
    throw new SigningKeyError(
      `development signing keys are published (${keys.developmentKids.join(', ')}); production refuses them: ` +
        'add and promote a real key with `idm keys`, then retire the development ones (--force)',
    );
  }
}

/** Replaces the keys a constructed Provider signs and verifies with, and the JWKS it serves. */
export function applyKeys(provider: object, keys: PublishedKeys): void {
  if (!instance(provider)) throw new TypeError('not an oidc-provider Provider instance');
  initializeKeystore.call(provider, keys.jwks);
}

export async function createKeyRing(knex: Knex, options: KeyRingOptions): Promise<KeyRing> {
  const { cipher } = options;
  // Rows from before encryption at rest; a row no configured KEK opens throws here (exit 78).
  const encrypted = await encryptStoredKeys(knex, cipher, { all: false });
  if (encrypted.length) options.logger.info({ kids: encrypted }, 'encrypted plaintext signing keys at rest');
  if (options.development && (await ensureDevelopmentKey(knex, cipher))) {
    options.logger.warn('generated a development signing key (production refuses it)');
  }
  const initial = await loadPublishedKeys(knex, cipher);
  check(initial, options.development);
  let current = initial;
  let provider: object | undefined;
  let timer: NodeJS.Timeout | undefined;
  let polling = false;

  async function refresh(): Promise<boolean> {
    const fingerprint = await publishedFingerprint(knex);
    if (fingerprint === current.fingerprint) return false;
    const next = await loadPublishedKeys(knex, cipher);
    try {
      check(next, options.development);
    } catch (error) {
      // Keep signing with what we have: a bad edit of the table must not take the idp down.
      options.logger.error({ err: error }, 'signing keys changed to an unusable set; keeping the previous keys');
      return false;
    }
    if (provider) applyKeys(provider, next);
    options.logger.info({ active: next.activeKid, published: next.jwks.keys.map((k) => k.kid) }, 'signing keys reloaded');
    current = next;
    return true;
  }

  return {
    initial,
    get current() {
      return current;
    },
    attach(target) {
      provider = target;
      timer = setInterval(() => {
        if (polling) return;
        polling = true;
        refresh()
          .catch((error: unknown) => options.logger.error({ err: error }, 'polling signing keys failed'))
          .finally(() => (polling = false));
      }, options.pollMs);
      timer.unref();
    },
    refresh,
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
