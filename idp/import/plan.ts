// What to do with one batch of imported legacy users, decided in memory from the users and the
// idp users they could collide with: the never-downgrade rule and login keys already taken.
// The ETL validated and mapped the rows before (legacy-adapter/etl/prepare.ts); the idp owns
// these decisions because they are about its own store.
import type { ImportResult, ImportUser } from '../../contracts/idp-import.ts';
import { identifyScheme, pbkdf2Scheme, WRAPPED_SCHEME } from '../../lib/passwords/index.ts';
import { normalizeLogin } from '../users/normalize.ts';
import type { NewLegacyUser, StoredUser } from '../users/types.ts';
import type { ImportKeys, LegacyUserChange } from './batch.ts';

export interface PlannedUpdate {
  legacyId: string;
  userId: string;
  expectedHash: string | null;
  change: LegacyUserChange;
  /** The whole user the legacy row asks for (the change holds only what differs). */
  wanted: NewLegacyUser;
}

export interface ImportPlan {
  inserts: NewLegacyUser[];
  updates: PlannedUpdate[];
  /** One per user planned, in order: what the write will have done once it commits. */
  results: ImportResult[];
}

const NONE: ReadonlySet<string> = new Set();

const keyOf = (value: string | null) => (value ? normalizeLogin(value) || null : null);

/** The legacy ids and login keys a batch must look up before planImport. */
export function importKeysOf(users: readonly ImportUser[]): ImportKeys {
  return {
    legacyIds: users.map((u) => u.legacyId),
    emails: users.flatMap((u) => keyOf(u.email) ?? []),
    usernames: users.flatMap((u) => keyOf(u.username) ?? []),
  };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The fields of `wanted` that differ from what the idp holds, with the never-downgrade rule
 * applied. `ourWrites`: fingerprints of legacy hashes the idp's dual-write put in this user's row.
 */
function changeFor(existing: StoredUser, wanted: NewLegacyUser, ourWrites: ReadonlySet<string>): { change: LegacyUserChange; upgraded: boolean } {
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
  // The row holds a hash the idp wrote there itself, read before a newer one landed: the idp's
  // password is newer than anything in that row (and its fingerprint already names the newer write).
  if (upgraded && wanted.legacyFingerprint !== null && ourWrites.has(wanted.legacyFingerprint)) return { change, upgraded };
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
 * Decides, in order, what each user does against the idp users that hold its legacy id or its
 * login keys. A login key belongs to whoever holds it first: an idp user, an earlier legacy id,
 * or an earlier user of this batch (legacy sign-ups could share an e-mail; the oldest account
 * keeps it, as the PHP login picks the oldest).
 */
export function planImport(
  users: readonly ImportUser[],
  existingUsers: readonly StoredUser[],
  dualWrites: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
): ImportPlan {
  const plan: ImportPlan = { inserts: [], updates: [], results: [] };
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

  for (const user of users) {
    const { legacyId } = user;
    const me = `legacy:${legacyId}`;
    const emailKey = keyOf(user.email);
    const usernameKey = keyOf(user.username);
    const emailHeldBy = emailKey === null ? undefined : emailOwner.get(emailKey);
    const usernameHeldBy = usernameKey === null ? undefined : usernameOwner.get(usernameKey);
    if (emailHeldBy !== undefined && emailHeldBy !== me) {
      plan.results.push({ legacyId, ok: false, reason: 'email_taken', detail: holder(emailHeldBy) });
      continue;
    }
    if (usernameHeldBy !== undefined && usernameHeldBy !== me) {
      plan.results.push({ legacyId, ok: false, reason: 'username_taken', detail: holder(usernameHeldBy) });
      continue;
    }
    const existing = byLegacyId.get(legacyId);
    // The user takes its keys and gives up the ones it held before.
    if (existing?.email) {
      const old = normalizeLogin(existing.email);
      if (emailOwner.get(old) === me) emailOwner.delete(old);
    }
    if (existing?.username) {
      const old = normalizeLogin(existing.username);
      if (usernameOwner.get(old) === me) usernameOwner.delete(old);
    }
    if (emailKey !== null) emailOwner.set(emailKey, me);
    if (usernameKey !== null) usernameOwner.set(usernameKey, me);

    if (!existing) {
      plan.inserts.push(user);
      plan.results.push({ legacyId, ok: true, outcome: 'inserted', wrapped: false });
      continue;
    }
    const { change, upgraded } = changeFor(existing, user, dualWrites.get(existing.id) ?? NONE);
    if (Object.keys(change).length > 0) {
      plan.updates.push({ legacyId, userId: existing.id, expectedHash: existing.passwordHash, change, wanted: user });
      plan.results.push({ legacyId, ok: true, outcome: 'updated', wrapped: false });
    } else {
      plan.results.push({ legacyId, ok: true, outcome: upgraded ? 'already_upgraded' : 'unchanged', wrapped: false });
    }
  }
  return plan;
}
