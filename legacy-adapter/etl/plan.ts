// What to do with one batch of legacy rows, decided in memory from the rows and the idp users
// they could collide with: validation, the never-downgrade rule, login-key conflicts.
import { z } from 'zod';
import type { LegacyUserChange } from '../../idp/import/batch.ts';
import { normalizeLogin } from '../../idp/users/normalize.ts';
import type { NewLegacyUser, StoredUser } from '../../idp/users/types.ts';
import { getScheme, identifyScheme, pbkdf2Scheme, WRAPPED_SCHEME } from '../../lib/passwords/index.ts';
import { verificationSalt, type LegacyRow } from '../directory/directory.ts';
import { legacyFingerprint } from '../directory/fingerprint.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { emptyCounts, type DeadLetter, type MigrationCounts } from './types.ts';

export interface PlanContext {
  mapping: LegacyMapping;
  fingerprintKey: string;
}

/** A row that passed validation: the idp user it should become, and its login keys. */
export interface PreparedRow {
  legacyId: string;
  user: NewLegacyUser & { active: boolean };
  emailKey: string | null;
  usernameKey: string | null;
}

export type Prepared = { ok: true; row: PreparedRow } | { ok: false; deadLetter: DeadLetter };

export interface PlannedUpdate {
  legacyId: string;
  userId: string;
  expectedHash: string | null;
  change: LegacyUserChange;
  /** The whole user the legacy row asks for (the change holds only what differs). */
  wanted: PreparedRow['user'];
}

export interface BatchPlan {
  inserts: NewLegacyUser[];
  updates: PlannedUpdate[];
  deadLetters: DeadLetter[];
  /** Legacy ids now in the idp as the legacy table says (any old dead letter of theirs is resolved). */
  settled: string[];
  counts: MigrationCounts;
}

// What a browser's <input type="email"> accepts, and no longer than the idp's column.
const emailPattern = z.regexes.html5Email;
const MAX_EMAIL_LENGTH = 254;

/**
 * The scheme the idp should record for a legacy hash: the one its prefix names, else the first
 * bare-hex candidate of the right length that the row can use (salted ones need a salt).
 */
function legacyScheme(hash: string, candidates: readonly string[], salt: string | null): string | null {
  const identified = identifyScheme(hash, candidates);
  if (identified === null || getScheme(identified)?.kind !== 'bare-hex' || salt !== null) return identified;
  return candidates.find((name) => {
    const scheme = getScheme(name);
    return scheme !== undefined && !scheme.salted && scheme.identify(hash);
  }) ?? null;
}

/** Validates one legacy row against the mapping; never reads the idp. */
export function prepareRow(row: LegacyRow, context: PlanContext): Prepared {
  const { mapping, fingerprintKey } = context;
  const dead = (reason: DeadLetter['reason'], detail: string | null): Prepared => ({ ok: false, deadLetter: { legacyId: row.legacyId, reason, detail } });
  const username = row.username?.trim() || null;
  const email = row.email?.trim() || null;
  const usernameKey = username ? normalizeLogin(username) || null : null;
  const emailKey = email ? normalizeLogin(email) || null : null;
  if (usernameKey === null && emailKey === null) return dead('no_login', 'neither a username nor an e-mail');
  if (email !== null && (email.length > MAX_EMAIL_LENGTH || !emailPattern.test(email))) return dead('invalid_email', null);
  const hash = row.hash?.trim() || null;
  if (hash === null) return dead('unrecognised_hash', 'empty hash');
  const salt = verificationSalt(mapping, row);
  const candidates = mapping.passwords.hexCandidates;
  const scheme = legacyScheme(hash, candidates, salt);
  if (scheme === null) return dead('unrecognised_hash', identifyScheme(hash, candidates) ? 'only salted schemes fit and the row has no salt' : `no scheme recognises it (length ${hash.length})`);
  const bareHex = getScheme(scheme)?.kind === 'bare-hex';
  return {
    ok: true,
    row: {
      legacyId: row.legacyId,
      usernameKey,
      emailKey,
      user: {
        legacyId: row.legacyId,
        username,
        email,
        name: row.name,
        active: row.active,
        passwordHash: hash,
        passwordSalt: salt,
        passwordScheme: scheme,
        passwordCandidates: bareHex ? candidates : [],
        passwordEncodings: mapping.passwords.encodings,
        // Of the row as stored (not trimmed), exactly as the adapter fingerprints it at a JIT import.
        legacyFingerprint: legacyFingerprint(fingerprintKey, row.hash, row.salt),
      },
    },
  };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The fields of `wanted` that differ from what the idp holds, with the never-downgrade rule applied. */
function changeFor(existing: StoredUser, wanted: PreparedRow['user']): { change: LegacyUserChange; upgraded: boolean } {
  const change: LegacyUserChange = {};
  if (existing.username !== wanted.username) change.username = wanted.username;
  if (existing.email !== wanted.email) change.email = wanted.email;
  if (existing.name !== wanted.name) change.name = wanted.name;
  if (existing.active !== wanted.active) change.active = wanted.active;

  // A PBKDF2 hash can only have come from the idp (a login upgrade or a password chosen there).
  const upgraded = existing.passwordHash !== null && pbkdf2Scheme.identify(existing.passwordHash);
  if (upgraded && existing.legacyFingerprint === null) {
    // Nothing says which legacy password it came from: keep it (never downgrade) and start
    // watching the legacy row from now on.
    change.legacyFingerprint = wanted.legacyFingerprint;
    return { change, upgraded };
  }
  if (upgraded && existing.legacyFingerprint === wanted.legacyFingerprint) return { change, upgraded };
  // A wrapped hash is the legacy hash made strong (with a fresh salt, so it never equals a copy):
  // it stands as long as the legacy row still holds the hash it wrapped.
  const wrapped = existing.passwordHash !== null && identifyScheme(existing.passwordHash) === WRAPPED_SCHEME;
  if (wrapped && existing.legacyFingerprint !== null && existing.legacyFingerprint === wanted.legacyFingerprint) return { change, upgraded };
  // The legacy row is the truth for this password: either the idp still holds a copy of a legacy
  // hash, or the password changed on the legacy side since the idp last saw it.
  if (existing.passwordHash !== wanted.passwordHash) change.passwordHash = wanted.passwordHash;
  if (existing.passwordSalt !== wanted.passwordSalt) change.passwordSalt = wanted.passwordSalt;
  if (existing.passwordScheme !== wanted.passwordScheme) change.passwordScheme = wanted.passwordScheme;
  if (!sameList(existing.passwordCandidates, wanted.passwordCandidates ?? [])) change.passwordCandidates = wanted.passwordCandidates;
  if (!sameList(existing.passwordEncodings, wanted.passwordEncodings ?? ['utf8'])) change.passwordEncodings = wanted.passwordEncodings;
  if (existing.legacyFingerprint !== wanted.legacyFingerprint) change.legacyFingerprint = wanted.legacyFingerprint;
  return { change, upgraded: false };
}

/**
 * Decides, in id order, what each prepared row does against the idp users that hold its legacy id
 * or its login keys. A login key belongs to whoever holds it first: an idp user, an earlier legacy
 * id, or an earlier row of this batch (legacy sign-ups could share an e-mail; the oldest account
 * keeps it, as the PHP login picks the oldest).
 */
export function planBatch(prepared: readonly Prepared[], existingUsers: readonly StoredUser[]): BatchPlan {
  const plan: BatchPlan = { inserts: [], updates: [], deadLetters: [], settled: [], counts: emptyCounts() };
  const byLegacyId = new Map<string, StoredUser>();
  const emailOwner = new Map<string, string>();
  const usernameOwner = new Map<string, string>();
  const ownerOf = (user: StoredUser) => (user.legacyId !== null ? `legacy:${user.legacyId}` : `idp:${user.id}`);
  for (const user of existingUsers) {
    if (user.legacyId !== null) byLegacyId.set(user.legacyId, user);
    if (user.email) emailOwner.set(normalizeLogin(user.email), ownerOf(user));
    if (user.username) usernameOwner.set(normalizeLogin(user.username), ownerOf(user));
  }
  const holder = (owner: string) => (owner.startsWith('legacy:') ? `held by legacy id ${owner.slice(7)}` : 'held by a user of the idp');

  for (const item of prepared) {
    plan.counts.read++;
    if (!item.ok) {
      plan.deadLetters.push(item.deadLetter);
      plan.counts.deadLettered[item.deadLetter.reason]++;
      continue;
    }
    const { row } = item;
    const me = `legacy:${row.legacyId}`;
    const emailHeldBy = row.emailKey === null ? undefined : emailOwner.get(row.emailKey);
    const usernameHeldBy = row.usernameKey === null ? undefined : usernameOwner.get(row.usernameKey);
    if (emailHeldBy !== undefined && emailHeldBy !== me) {
      plan.deadLetters.push({ legacyId: row.legacyId, reason: 'email_taken', detail: holder(emailHeldBy) });
      plan.counts.deadLettered.email_taken++;
      continue;
    }
    if (usernameHeldBy !== undefined && usernameHeldBy !== me) {
      plan.deadLetters.push({ legacyId: row.legacyId, reason: 'username_taken', detail: holder(usernameHeldBy) });
      plan.counts.deadLettered.username_taken++;
      continue;
    }
    const existing = byLegacyId.get(row.legacyId);
    // The row takes its keys and gives up the ones it held before.
    if (existing?.email) {
      const old = normalizeLogin(existing.email);
      if (emailOwner.get(old) === me) emailOwner.delete(old);
    }
    if (existing?.username) {
      const old = normalizeLogin(existing.username);
      if (usernameOwner.get(old) === me) usernameOwner.delete(old);
    }
    if (row.emailKey !== null) emailOwner.set(row.emailKey, me);
    if (row.usernameKey !== null) usernameOwner.set(row.usernameKey, me);
    plan.settled.push(row.legacyId);

    if (!existing) {
      plan.inserts.push(row.user);
      plan.counts.inserted++;
      continue;
    }
    const { change, upgraded } = changeFor(existing, row.user);
    if (Object.keys(change).length > 0) {
      plan.updates.push({ legacyId: row.legacyId, userId: existing.id, expectedHash: existing.passwordHash, change, wanted: row.user });
      plan.counts.updated++;
    } else if (upgraded) {
      plan.counts.alreadyUpgraded++;
    } else {
      plan.counts.unchanged++;
    }
  }
  return plan;
}

/** The legacy ids and login keys a batch must look up in the idp before planBatch. */
export function importKeysOf(prepared: readonly Prepared[]): { legacyIds: string[]; emails: string[]; usernames: string[] } {
  const legacyIds: string[] = [];
  const emails: string[] = [];
  const usernames: string[] = [];
  for (const item of prepared) {
    if (!item.ok) continue;
    legacyIds.push(item.row.legacyId);
    if (item.row.emailKey !== null) emails.push(item.row.emailKey);
    if (item.row.usernameKey !== null) usernames.push(item.row.usernameKey);
  }
  return { legacyIds, emails, usernames };
}
