// The signing-key lifecycle over the `signing_keys` table. One module owns the rules, so the
// ops command and the running replicas can never disagree about what "may sign" means.
//
//   add-next:  a new key, published in JWKS, not signing
//   promote:   next -> active, the old active -> retiring (published, no longer signs)
//   retire:    retiring -> retired, once no token it signed can still be valid
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Knex } from '../../../lib/db.ts';
import type { KeyCipher } from './key-encryption.ts';

export type KeyState = 'next' | 'active' | 'retiring' | 'retired';

export const SIGNING_ALG = 'RS256';

export interface SigningKeyRow {
  kid: string;
  state: KeyState;
  alg: string;
  development: boolean;
  createdAt: number;
  activatedAt: number | null;
  deactivatedAt: number | null;
  retiredAt: number | null;
}

export type Jwk = Record<string, unknown> & { kid: string; kty: string };

/** Thrown when a lifecycle step is refused; the message says why and what to do instead. */
export class KeyLifecycleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyLifecycleError';
  }
}

const TABLE = 'signing_keys';

interface RawRow {
  kid: string;
  state: string;
  alg: string;
  public_jwk: string;
  private_jwk: string | null;
  development: number | boolean;
  created_at: number | string;
  activated_at: number | string | null;
  deactivated_at: number | string | null;
  retired_at: number | string | null;
  updated_at: number | string;
}

const ms = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toRow(raw: RawRow): SigningKeyRow {
  return {
    kid: raw.kid,
    state: raw.state as KeyState,
    alg: raw.alg,
    development: Boolean(raw.development),
    createdAt: Number(raw.created_at),
    activatedAt: ms(raw.activated_at),
    deactivatedAt: ms(raw.deactivated_at),
    retiredAt: ms(raw.retired_at),
  };
}

export async function listKeys(knex: Knex): Promise<SigningKeyRow[]> {
  const rows = (await knex(TABLE).select('*').orderBy('created_at', 'asc')) as RawRow[];
  return rows.map(toRow);
}

function generateRsaJwk(): { publicJwk: Jwk; privateJwk: Jwk } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(16).toString('base64url');
  const exported = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const privateJwk: Jwk = { ...exported, kty: 'RSA', kid, alg: SIGNING_ALG, use: 'sig' };
  const publicJwk: Jwk = { kty: 'RSA', kid, alg: SIGNING_ALG, use: 'sig', n: exported.n, e: exported.e };
  return { publicJwk, privateJwk };
}

/** Adds a key in state `next`: replicas publish it on their next poll; it does not sign yet. */
export async function addNextKey(knex: Knex, cipher: KeyCipher, options: { development?: boolean; now?: number } = {}): Promise<SigningKeyRow> {
  const now = options.now ?? Date.now();
  const { publicJwk, privateJwk } = generateRsaJwk();
  await knex.transaction(async (trx) => {
    const pending = await trx(TABLE).where({ state: 'next' }).first('kid');
    if (pending) throw new KeyLifecycleError(`key ${(pending as { kid: string }).kid} is already the next key; promote it first`);
    await trx(TABLE).insert({
      kid: publicJwk.kid,
      state: 'next',
      alg: SIGNING_ALG,
      public_jwk: JSON.stringify(publicJwk),
      private_jwk: cipher.encrypt(publicJwk.kid, JSON.stringify(privateJwk)),
      development: Boolean(options.development),
      created_at: now,
      updated_at: now,
    });
  });
  const row = await knex(TABLE).where({ kid: publicJwk.kid }).first();
  return toRow(row as RawRow);
}

export interface PromoteOptions {
  /**
   * How long the next key must have been published before it may sign: every replica must
   * have polled it into its JWKS, and relying parties must have had a chance to fetch it.
   */
  minPublishedMs: number;
  force?: boolean;
  now?: number;
}

/** next -> active, active -> retiring, in one transaction. */
export async function promoteNextKey(knex: Knex, options: PromoteOptions): Promise<{ promoted: string; retiring?: string }> {
  const now = options.now ?? Date.now();
  return knex.transaction(async (trx) => {
    const next = (await trx(TABLE).where({ state: 'next' }).first()) as RawRow | undefined;
    if (!next) throw new KeyLifecycleError('there is no next key to promote; run add-next first');
    const active = (await trx(TABLE).where({ state: 'active' }).select('kid')) as { kid: string }[];
    const publishedFor = now - Number(next.created_at);
    // With no active key nothing has been signed yet, so nobody can be waiting for this key.
    if (active.length && publishedFor < options.minPublishedMs && !options.force) {
      const wait = Math.ceil((options.minPublishedMs - publishedFor) / 1000);
      throw new KeyLifecycleError(
        `key ${next.kid} has been published for ${Math.floor(publishedFor / 1000)} s only; every replica and relying party ` +
          `must see it in JWKS before it signs: try again in ${wait} s (or --force if you know they have)`,
      );
    }
    for (const { kid } of active) {
      await trx(TABLE).where({ kid }).update({ state: 'retiring', deactivated_at: now, updated_at: now });
    }
    await trx(TABLE).where({ kid: next.kid }).update({ state: 'active', activated_at: now, updated_at: now });
    return { promoted: next.kid, ...(active[0] ? { retiring: active[0].kid } : {}) };
  });
}

export interface RetireOptions {
  /** Longest lifetime of anything signed (ID tokens, JWT access tokens) plus the poll delay. */
  minRetiringMs: number;
  force?: boolean;
  now?: number;
}

/** retiring -> retired: unpublished, private half erased. Refused while its tokens may be valid. */
export async function retireKey(knex: Knex, kid: string, options: RetireOptions): Promise<void> {
  const now = options.now ?? Date.now();
  await knex.transaction(async (trx) => {
    const row = (await trx(TABLE).where({ kid }).first()) as RawRow | undefined;
    if (!row) throw new KeyLifecycleError(`no key with kid ${kid}`);
    if (row.state !== 'retiring') {
      throw new KeyLifecycleError(
        row.state === 'active' || row.state === 'next'
          ? `key ${kid} is ${row.state}; promote another key first so this one stops signing`
          : `key ${kid} is already retired`,
      );
    }
    const since = now - Number(row.deactivated_at ?? row.updated_at);
    if (since < options.minRetiringMs && !options.force) {
      const wait = Math.ceil((options.minRetiringMs - since) / 1000);
      throw new KeyLifecycleError(
        `key ${kid} stopped signing ${Math.floor(since / 1000)} s ago; tokens it signed may still be valid for ${wait} s more ` +
          `(retire it after that, or --force to invalidate them now)`,
      );
    }
    await trx(TABLE).where({ kid }).update({ state: 'retired', private_jwk: null, retired_at: now, updated_at: now });
  });
}

/** What a replica serves: every published key (next, active, retiring) with its private half. */
export interface PublishedKeys {
  /** For oidc-provider's `jwks`: the active key first and able to sign, the others verify-only. */
  jwks: { keys: Jwk[] };
  activeKid: string | undefined;
  developmentKids: string[];
  fingerprint: string;
}

export async function loadPublishedKeys(knex: Knex, cipher: KeyCipher): Promise<PublishedKeys> {
  const rows = (await knex(TABLE).whereIn('state', ['next', 'active', 'retiring']).select('*')) as RawRow[];
  // Several `active` rows cannot happen through these functions; if a hand edit makes it
  // happen, the most recently activated signs and the others still verify.
  const actives = rows.filter((r) => r.state === 'active').sort((a, b) => Number(b.activated_at ?? 0) - Number(a.activated_at ?? 0));
  const signer = actives[0];
  const keys: Jwk[] = [];
  for (const row of [...(signer ? [signer] : []), ...rows.filter((r) => r !== signer)]) {
    if (!row.private_jwk) continue;
    const jwk = JSON.parse(cipher.decrypt(row.kid, row.private_jwk).privateJwk) as Jwk;
    // key_ops keeps oidc-provider from choosing this key to sign while it still verifies with it.
    keys.push(row === signer ? jwk : { ...jwk, key_ops: ['verify'] });
  }
  return {
    jwks: { keys },
    activeKid: signer?.kid,
    developmentKids: rows.filter((r) => Boolean(r.development)).map((r) => r.kid),
    fingerprint: fingerprintOf(rows),
  };
}

function fingerprintOf(rows: Pick<RawRow, 'kid' | 'state' | 'updated_at'>[]): string {
  return rows
    .map((r) => `${r.kid}:${r.state}:${Number(r.updated_at)}`)
    .sort()
    .join(',');
}

/** A cheap read that changes whenever the published set does; replicas poll it. */
export async function publishedFingerprint(knex: Knex): Promise<string> {
  const rows = (await knex(TABLE).whereIn('state', ['next', 'active', 'retiring']).select('kid', 'state', 'updated_at')) as RawRow[];
  return fingerprintOf(rows);
}

/**
 * Development convenience: with no active key, generate one and activate it at once (marked
 * `development`, which production refuses). Several replicas racing here is harmless: the
 * loser's add-next fails on the existing next key and it reloads what the winner wrote.
 */
export async function ensureDevelopmentKey(knex: Knex, cipher: KeyCipher): Promise<boolean> {
  const active = await knex(TABLE).where({ state: 'active' }).first('kid');
  if (active) return false;
  try {
    await addNextKey(knex, cipher, { development: true });
    await promoteNextKey(knex, { minPublishedMs: 0, force: true });
    return true;
  } catch (error) {
    if (error instanceof KeyLifecycleError) return false;
    throw error;
  }
}

/**
 * Rewrites private halves with the current KEK: only plaintext (legacy) rows at start, every
 * row not under the current KEK with `all` (the ops command, after a KEK rotation). Throws
 * KeyDecryptionError on a row no configured KEK opens. updated_at is left alone: the published
 * set does not change, so replicas have nothing to reload. Each write is conditional on the
 * value read, so replicas doing this at once neither fail nor overwrite each other's work.
 */
export async function encryptStoredKeys(knex: Knex, cipher: KeyCipher, options: { all: boolean }): Promise<string[]> {
  const rows = (await knex(TABLE).whereNotNull('private_jwk').select('kid', 'private_jwk')) as Pick<RawRow, 'kid' | 'private_jwk'>[];
  const rewritten: string[] = [];
  for (const { kid, private_jwk: stored } of rows) {
    if (stored === null) continue;
    if (!options.all && !stored.startsWith('{')) continue;
    const { privateJwk, current } = cipher.decrypt(kid, stored);
    if (current) continue;
    const changed = await knex(TABLE)
      .where({ kid, private_jwk: stored })
      .update({ private_jwk: cipher.encrypt(kid, privateJwk) });
    if (changed) rewritten.push(kid);
  }
  return rewritten;
}
