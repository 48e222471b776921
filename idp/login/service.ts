import { performance } from 'node:perf_hooks';
import type { Logger } from '../../lib/logger.ts';
import {
  dummyVerify,
  hashPassword,
  needsRehash,
  pbkdf2Scheme,
  PasswordWorkersBusyError,
  verifyPassword,
  type Pbkdf2Policy,
  type VerifyResult,
} from '../../lib/passwords/index.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { LegacyAdapterClient } from '../adapter-client/client.ts';
import type { StoredUser, UpgradeHooks, UserStore } from '../users/types.ts';
import type { PasswordLoginMetrics, PasswordLoginOutcome } from './metrics.ts';
import { accountOf, type IdpUser, type LoginOutcome, type LoginService, type UserDirectory } from './types.ts';

/** An outcome with the account it resolved to, which login() hands to onAccount, never to its result. */
type Decided = LoginOutcome & { account?: string };

/** Longer inputs are refused before any work (a legacy site never accepted such passwords). */
const MAX_PASSWORD_LENGTH = 4096;
const MAX_IDENTIFIER_LENGTH = 320;
const NEW_SCHEME = pbkdf2Scheme.name;

export interface LoginServiceOptions {
  users: UserStore;
  legacy: LegacyAdapterClient;
  /** What new hashes are written with, and the bar below which PBKDF2 hashes are rehashed. */
  policy: Pbkdf2Policy;
  metrics?: PasswordLoginMetrics;
  logger: Logger;
  /** Tests only: interrupt the writes to prove a crash at any step loses nothing. */
  hooks?: UpgradeHooks;
}

export function publicUser(user: StoredUser): IdpUser {
  const { id, username, email, emailVerified, name, active, updatedAt } = user;
  return { id, username, email, emailVerified, name, active, updatedAt };
}

/**
 * Just-in-time login (docs/DESIGN.md, "Login, just in time"): the idp's store first, legacy
 * hashes verified and upgraded to PBKDF2, users unknown to the idp fetched through the
 * legacy-adapter and imported. Every failure is the same `{ ok: false }` after about one
 * policy-strength PBKDF2 of work; an adapter that does not answer is `unavailable`, not a failure.
 */
export function createLoginService(options: LoginServiceOptions): LoginService & UserDirectory {
  const { users, legacy, policy, metrics, logger, hooks = {} } = options;

  function count(result: PasswordLoginOutcome, scheme: string | null, source: 'idp' | 'legacy' | 'none', dryRun: boolean): void {
    metrics?.logins.inc({ result, scheme: scheme ?? 'none', source, dry_run: String(dryRun) });
  }

  /** Pads a failure to the cost of a policy-strength verification, unless one was already spent. */
  async function fail(
    result: PasswordLoginOutcome,
    scheme: string | null,
    source: 'idp' | 'legacy' | 'none',
    dryRun: boolean,
    { spent = false, account }: { spent?: boolean; account?: string | undefined } = {},
  ): Promise<Decided> {
    if (!spent) await dummyVerify(policy);
    count(result, scheme, source, dryRun);
    return account === undefined ? { ok: false } : { ok: false, account };
  }

  /**
   * The legacy account a refused login names, if any: the adapter does not say whether the login
   * or the password was wrong, but the throttle must count guesses per account however typed.
   * The adapter's lookup applies the legacy login's own rules (username, then e-mail, its collation).
   */
  async function legacyAccountOf(identifier: string): Promise<string | undefined> {
    const found = await legacy.lookup({ login: identifier });
    if (!found.ok) return undefined;
    const [user] = found.users;
    return user ? `legacy:${user.legacyId}` : undefined;
  }

  async function timedVerify(password: string, user: StoredUser): Promise<VerifyResult> {
    const started = performance.now();
    const result = await verifyPassword(
      password,
      { hash: user.passwordHash, salt: user.passwordSalt },
      { candidates: user.passwordCandidates, encodings: user.passwordEncodings, policy },
    );
    metrics?.verifyDuration.observe({ scheme: result.scheme ?? user.passwordScheme ?? 'unknown' }, (performance.now() - started) / 1000);
    return result;
  }

  /** Rehash to PBKDF2 at policy. Failing to upgrade never fails the login: the next one retries. */
  async function upgrade(user: StoredUser, password: string, fromScheme: string): Promise<void> {
    const expectedHash = user.passwordHash;
    if (expectedHash === null) return;
    try {
      await hooks.afterVerify?.('upgrade');
      const newHash = await hashPassword(password, policy);
      const replaced = await users.replacePasswordHash({ userId: user.id, expectedHash, newHash, newScheme: NEW_SCHEME });
      // lost_race: a concurrent login (or a password change) wrote first; that hash stands.
      metrics?.upgrades.inc({ from_scheme: fromScheme, result: replaced ? 'upgraded' : 'lost_race' });
    } catch (error) {
      metrics?.upgrades.inc({ from_scheme: fromScheme, result: 'failed' });
      currentLogger(logger).error({ err: error, userId: user.id, fromScheme }, 'password upgrade failed; the old hash stays');
    }
  }

  async function loginStored(user: StoredUser, password: string, dryRun: boolean, source: 'idp' | 'legacy'): Promise<Decided> {
    const stored = user.passwordScheme;
    const account = accountOf(user);
    if (!user.active) return fail('inactive', stored, source, dryRun, { account });
    if (!user.passwordHash) {
      metrics?.unreadableHashes.inc({ code: 'empty' });
      currentLogger(logger).warn({ userId: user.id, problem: 'empty' }, 'stored password hash is empty');
      return fail('unreadable_hash', stored, source, dryRun, { account });
    }
    // Only a policy-strength PBKDF2 verification costs what the dummy does.
    const spent = !needsRehash(user.passwordHash, policy);
    const result = await timedVerify(password, user);
    const scheme = result.scheme ?? stored ?? 'unknown';
    if (!result.ok) {
      if (result.reason === 'mismatch') return fail('wrong_password', scheme, source, dryRun, { spent, account });
      const code = result.error?.code ?? result.reason ?? 'unknown';
      metrics?.unreadableHashes.inc({ code });
      currentLogger(logger).warn({ userId: user.id, scheme, problem: code, detail: result.error?.message }, 'stored password hash cannot be verified');
      return fail('unreadable_hash', scheme, source, dryRun, { spent, account });
    }
    if (result.needsRehash && !dryRun) await upgrade(user, password, scheme);
    count('success', scheme, source, dryRun);
    return { ok: true, user: publicUser(user), account };
  }

  async function loginLegacy(identifier: string, password: string, dryRun: boolean): Promise<Decided> {
    const answer = await legacy.authenticate(identifier, password);
    metrics?.legacyLookups.inc({ result: answer.ok ? 'found' : answer.reason });
    if (!answer.ok && answer.reason === 'rejected')
      return fail('unknown_user', null, 'legacy', dryRun, { account: dryRun ? undefined : await legacyAccountOf(identifier) });
    if (!answer.ok) {
      // Nothing was decided: not a wrong password, and no dummy work to pad (the answer says so anyway).
      currentLogger(logger).warn({ reason: answer.detail }, 'legacy-adapter unavailable; login of a user unknown to the idp not decided');
      count('legacy_unavailable', null, 'legacy', dryRun);
      return { ok: false, unavailable: true };
    }
    const known = await users.findByLegacyId(answer.user.legacyId);
    // Already imported under other login keys (renamed, or an e-mail another user holds): the
    // idp's row is the truth, its password and its active flag, not the legacy row's.
    if (known) return loginStored(known, password, dryRun, 'idp');
    if (dryRun) {
      count('success', answer.scheme, 'legacy', dryRun);
      // No idp subject exists yet: a dry run answers only whether the password is right.
      return {
        ok: true,
        user: {
          id: '',
          username: answer.user.username,
          email: answer.user.email,
          emailVerified: false,
          name: answer.user.name,
          active: true,
          updatedAt: new Date(),
        },
      };
    }
    await hooks.afterVerify?.('import');
    const passwordHash = await hashPassword(password, policy);
    const { user, created } = await users.insertFromLegacy({
      legacyId: answer.user.legacyId,
      username: answer.user.username,
      email: answer.user.email,
      name: answer.user.name,
      passwordHash,
      passwordScheme: NEW_SCHEME,
      legacyFingerprint: answer.fingerprint,
    });
    // A concurrent login imported the user first: check against the row that won.
    if (!created) return loginStored(user, password, false, 'idp');
    metrics?.upgrades.inc({ from_scheme: answer.scheme, result: 'imported' });
    count('success', answer.scheme, 'legacy', false);
    return { ok: true, user: publicUser(user), account: accountOf(user) };
  }

  async function decide(identifier: string, password: string, dryRun: boolean): Promise<Decided> {
    if (
      typeof identifier !== 'string' ||
      typeof password !== 'string' ||
      identifier.trim() === '' ||
      password === '' ||
      identifier.length > MAX_IDENTIFIER_LENGTH ||
      password.length > MAX_PASSWORD_LENGTH
    ) {
      return fail('invalid_input', null, 'none', dryRun);
    }
    const user = await users.findByLogin(identifier);
    if (user) return loginStored(user, password, dryRun, 'idp');
    return loginLegacy(identifier.trim(), password, dryRun);
  }

  /**
   * Every hashing thread busy and the queue full, at any step (verify, dummy, import): nothing was
   * decided, as when the legacy-adapter is down. Never a failed login: the refusal comes before
   * any password is compared, and the dummy passes the same gate, so it says nothing about the account.
   */
  async function decideUnlessBusy(identifier: string, password: string, dryRun: boolean): Promise<Decided> {
    try {
      return await decide(identifier, password, dryRun);
    } catch (error) {
      if (!(error instanceof PasswordWorkersBusyError)) throw error;
      currentLogger(logger).warn({ maxQueue: error.maxQueue }, 'password workers busy; login not decided');
      count('busy', null, 'none', dryRun);
      return { ok: false, unavailable: true };
    }
  }

  return {
    async login(identifier, password, loginOptions = {}) {
      const { account, ...outcome } = await decideUnlessBusy(identifier, password, loginOptions.dryRun === true);
      if (account !== undefined) loginOptions.onAccount?.(account);
      return outcome;
    },
    async findById(id) {
      const user = await users.findById(id);
      return user ? publicUser(user) : undefined;
    },
  };
}
