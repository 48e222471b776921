// What a "Forgot password?" submission does, after its page was already sent: find the account
// (the idp's store and the legacy-adapter, both asked every time), import a legacy user who never
// signed in the batch migration's way, and mail a link. Nothing here reaches the answer the user
// got, so neither its content nor its timing tells whether an account exists.
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { LegacyAdapterClient } from '../adapter-client/client.ts';
import { accountOf } from '../login/index.ts';
import type { Mailer } from '../mail/index.ts';
import { throttleSubjects, userKey, type LoginThrottle } from '../throttle/index.ts';
import type { IdpUserStore, StoredUser } from '../users/store.ts';
import type { ResetMetrics, ResetRequestResult } from './metrics.ts';
import type { ResetTokens } from './tokens.ts';
import { NEW_PASSWORD_PATH } from './views.ts';

export interface ResetRequestDeps {
  users: IdpUserStore;
  legacy: Pick<LegacyAdapterClient, 'lookupForImport'>;
  tokens: ResetTokens;
  mailer: Mailer;
  /** Its own counts (not the login's): requests per account as typed and as resolved, and per address. */
  throttle: LoginThrottle;
  metrics: ResetMetrics;
  logger: Logger;
  /** Where links point: the issuer's origin, which serves /interaction/* (through the gateway). */
  publicOrigin: string;
  ttlSeconds: number;
}

export const displayName = (user: Pick<StoredUser, 'name' | 'username' | 'email'>): string => user.name ?? user.username ?? user.email ?? '';

export function createResetRequests(deps: ResetRequestDeps) {
  const minutes = String(Math.round(deps.ttlSeconds / 60));

  /** The account a request names, imported from the legacy site if the idp does not know it yet. */
  async function findAccount(identifier: string): Promise<StoredUser | 'unavailable' | undefined> {
    // Both lookups, always and at once: the work is the same whichever side knows the account.
    const [known, legacy] = await Promise.all([deps.users.findByLogin(identifier), deps.legacy.lookupForImport({ login: identifier })]);
    if (known) return known;
    if (!legacy.ok) return 'unavailable';
    const [entry] = legacy.users;
    if (!entry?.user.active || !entry.import) return undefined;
    // Already imported under other login keys (renamed, or an e-mail another user holds).
    const linked = await deps.users.findByLegacyId(entry.user.legacyId);
    if (linked) return linked;
    // The batch migration's record, legacy hash included: if the user never uses the link, their
    // password stays the one they had, as if the migration had imported them.
    const { user, created } = await deps.users.insertFromLegacy(entry.import);
    if (created) deps.metrics.imported();
    return user;
  }

  async function decide(identifier: string, ip: string | undefined): Promise<ResetRequestResult> {
    const log = currentLogger(deps.logger).child({ component: 'password-reset' });
    const asked = throttleSubjects(identifier, ip);
    const first = await deps.throttle.attempt({ account: asked.account, address: asked.address, ...(asked.network ? { network: asked.network } : {}) });
    if (!first.allowed) {
      log.warn({ subject: first.subject }, 'password reset request throttled');
      return 'throttled';
    }
    const user = await findAccount(identifier);
    if (user === 'unavailable') {
      log.warn('legacy-adapter unavailable; password reset request not decided');
      return 'unavailable';
    }
    if (!user?.active || !user.email) return 'no_account';
    // However the account was named (username, e-mail, spelling), one count per person.
    const resolved = await deps.throttle.attempt({ user: userKey(accountOf(user)) });
    if (!resolved.allowed) {
      log.warn({ sub: user.id, subject: resolved.subject }, 'password reset request throttled');
      return 'throttled';
    }
    const token = await deps.tokens.issue(user.id);
    const link = new URL(`${NEW_PASSWORD_PATH}?token=${token}`, deps.publicOrigin).href;
    await deps.mailer.enqueue('password-reset', user.email, { name: displayName(user), link, minutes });
    if (deps.mailer.development) {
      // Development only (no SMTP_URL, not production): the link is a credential, and the log is
      // where a newcomer without a mail server finds it. Never logged when mail really goes out.
      // A warning, so it shows at npm start's LOG_LEVEL (warn): nobody receives this mail.
      log.warn({ sub: user.id, link }, 'password reset link (development mail, nobody receives it: also in the .eml file)');
    } else {
      log.info({ sub: user.id }, 'password reset link mailed');
    }
    return 'issued';
  }

  return {
    async handle(identifier: string, ip: string | undefined): Promise<void> {
      let result: ResetRequestResult;
      try {
        result = await decide(identifier, ip);
      } catch (error) {
        currentLogger(deps.logger).error({ err: error }, 'password reset request failed');
        result = 'failed';
      }
      deps.metrics.requested(result);
    },
  };
}
