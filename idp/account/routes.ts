// GET/POST /account/password: a signed-in user changes their password; every other grant and
// browser session of the account is revoked (now, or by the retrier once Redis answers), the
// one in use stays signed in.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type Provider from 'oidc-provider';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import { isStoreUnavailableError } from '../../lib/outage.ts';
import { hashPassword, hashPhpBcrypt, PasswordWorkersBusyError, pbkdf2Scheme, verifyPassword, type Pbkdf2Policy } from '../../lib/passwords/index.ts';
import { pageHeaders } from '../../lib/page-headers.ts';
import { createCsrfTokens, messagePage, sendUnavailablePage, unreadableFormStatus } from '../interactions/index.ts';
import type { RevokeUserGrants } from '../oidc/index.ts';
import { accountOf } from '../login/index.ts';
import { throttleSubjects, userKey, type LoginThrottle } from '../throttle/index.ts';
import type { IdpUserStore, StoredUser } from '../users/store.ts';
import { createPasswordChangeMetrics } from './metrics.ts';
import type { PendingRevocations } from './pending-revocations.ts';
import { formProblem, MAX_PASSWORD_LENGTH, type PasswordForm, type PasswordFormProblem } from './password-rules.ts';
import { signedInSession, type SignedInSession } from './session.ts';
import { PASSWORD_PATH, passwordChangePage } from './views.ts';
import { safeError } from '../../lib/safe-error.ts';

export interface AccountDeps {
  provider: Provider;
  users: IdpUserStore;
  /** The login throttle: guesses at the current password count as failed logins. */
  throttle: LoginThrottle;
  /** What new hashes are written with (the login service's policy). */
  policy: Pbkdf2Policy;
  revokeUserGrants: RevokeUserGrants;
  /** Revocations recorded with each change, forgotten here once done (else left to revocation-retrier.ts). */
  pendingRevocations: PendingRevocations;
  /** IDP_INTERACTION_SECRET: the key of the interaction pages' CSRF tokens. */
  csrfSecret: string;
  logger: Logger;
  registry?: Registry;
  /**
   * Dual-write (idp/dual-write): when set, a user with a legacy id gets the new password as a
   * `$2y$` bcrypt hash at this cost in an outbox event; `queued` hears of each event written.
   */
  legacyWrite?: { bcryptCost: number; queued(eventId: string): void };
}

const NEW_SCHEME = pbkdf2Scheme.name;

function send(res: Response, status: number, body: string): void {
  res
    .status(status)
    .set(pageHeaders({ ownAssets: true }))
    .send(body);
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  // One unit over the limit is enough for the length rule to see the input is too long.
  return typeof value === 'string' ? value.slice(0, MAX_PASSWORD_LENGTH + 1) : '';
}

const displayName = (user: StoredUser) => user.name ?? user.username ?? user.email ?? undefined;

const REVOCATION_DEFERRED =
  'Use your new password from now on. Your other devices and applications could not be signed out yet: they will be signed out automatically within a few minutes.';

const BUSY = Symbol('password workers busy');

/** The hashing `work` does, or BUSY when every hashing thread is taken and the queue is full. */
async function unlessBusy<T>(work: () => Promise<T>): Promise<T | typeof BUSY> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PasswordWorkersBusyError) return BUSY;
    throw error;
  }
}

export function mountAccount(app: Express, deps: AccountDeps): void {
  const csrf = createCsrfTokens(deps.csrfSecret);
  // A namespace of its own: an interaction uid never contains ':', so no token is valid for both.
  const csrfSubject = (session: SignedInSession) => `account-password:${session.id}`;
  const metrics = createPasswordChangeMetrics(deps.registry);
  const log = deps.logger.child({ component: 'account' });
  // Room for three fields of 1024 characters percent-encoded from up to 3 UTF-8 bytes each.
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 10 });

  const notSignedIn = (res: Response) =>
    send(
      res,
      401,
      messagePage({
        title: 'Sign in first',
        message: 'You are not signed in. Sign in through one of your applications, then come back to this page to change your password.',
      }),
    );

  /** The signed-in, active user of this request; answers the request itself when there is none. */
  async function signedInUser(req: Request, res: Response): Promise<{ session: SignedInSession; user: StoredUser } | undefined> {
    const session = await signedInSession(deps.provider, req, res);
    const user = session ? await deps.users.findById(session.accountId) : undefined;
    if (!session || !user?.active) {
      notSignedIn(res);
      return undefined;
    }
    return { session, user };
  }

  /** Nothing was decided or written: "try again", never "your current password is incorrect". */
  function busy(res: Response, user: StoredUser): void {
    metrics.change('busy');
    log.warn({ sub: user.id }, 'password change not done: the password workers are busy');
    sendUnavailablePage(res, { title: 'Your password was not changed', message: 'Changing passwords is unavailable right now. Please try again in a moment.' });
  }

  function renderForm(res: Response, status: number, session: SignedInSession, user: StoredUser, problem?: PasswordFormProblem) {
    send(res, status, passwordChangePage({ csrf: csrf.issue(csrfSubject(session)), accountName: displayName(user), ...(problem ? { problem } : {}) }));
  }

  app.get(PASSWORD_PATH, async (req, res) => {
    const found = await signedInUser(req, res);
    if (found) renderForm(res, 200, found.session, found.user);
  });

  app.post(PASSWORD_PATH, form, async (req, res) => {
    const found = await signedInUser(req, res);
    if (!found) return;
    const { session, user } = found;
    if (!csrf.verify(csrfSubject(session), req.body?.csrf)) {
      metrics.change('forged');
      log.warn({ sub: user.id }, 'password change refused: missing or wrong CSRF token');
      return send(res, 403, messagePage({ title: 'This form has expired', message: 'Open the password change page again and retry.' }));
    }
    const input: PasswordForm = {
      current: field(req.body, 'current-password'),
      next: field(req.body, 'new-password'),
      confirm: field(req.body, 'confirm-password'),
    };
    const problem = formProblem(input);
    if (problem) {
      metrics.change('invalid_form');
      return renderForm(res, 400, session, user, problem);
    }

    // The same counts as the login form: this page must not be a way around the login throttle.
    const subjects = { ...throttleSubjects(user.username ?? user.email ?? user.id, req.ip), user: userKey(accountOf(user)) };
    const decision = await deps.throttle.attempt(subjects);
    if (!decision.allowed) {
      metrics.change('throttled');
      log.warn({ sub: user.id, subject: decision.subject, retryAfterMs: decision.retryAfterMs }, 'password change throttled');
      res.set('retry-after', String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
      return renderForm(res, 429, session, user, 'throttled');
    }
    const storedHash = user.passwordHash;
    const verified = storedHash
      ? await unlessBusy(() =>
          verifyPassword(
            input.current,
            { hash: storedHash, salt: user.passwordSalt },
            { candidates: user.passwordCandidates, encodings: user.passwordEncodings, policy: deps.policy },
          ),
        )
      : undefined;
    if (verified === BUSY) {
      // The current password was not checked: the attempt must not count as a wrong one.
      await deps.throttle.refund(subjects);
      return busy(res, user);
    }
    if (!verified?.ok || !user.passwordHash) {
      metrics.change('incorrect_current');
      // An unreadable stored hash looks the same to the user; the log says which it was.
      log.info({ sub: user.id, reason: verified?.reason ?? 'empty' }, 'password change refused: current password not verified');
      return renderForm(res, 400, session, user, 'incorrect-current');
    }
    await deps.throttle.succeeded(subjects);

    const legacyWrite = deps.legacyWrite;
    const hashes = await unlessBusy(async () => ({
      newHash: await hashPassword(input.next, deps.policy),
      // The legacy site's form of the password, made now: the plaintext is never stored, and the
      // outbox row that carries this is written with the new hash or not at all.
      legacyHash: legacyWrite && user.legacyId !== null ? await hashPhpBcrypt(input.next, legacyWrite.bcryptCost) : undefined,
    }));
    if (hashes === BUSY) return busy(res, user);
    const { newHash, legacyHash } = hashes;
    // This browser keeps one of its grants and its session; every other grant and session of the
    // account goes, whatever client or device it belongs to. Recorded with the change itself, so
    // that a Redis failing after the commit delays the revocation instead of losing it.
    const keep = { keepGrantId: session.grantIds[0] ?? null, keepSessionId: session.id };
    const outcome = await deps.users.changePassword({
      userId: user.id,
      expectedHash: user.passwordHash,
      newHash,
      newScheme: NEW_SCHEME,
      ...(legacyHash ? { legacyHash } : {}),
      revocation: keep,
    });
    if (!outcome.changed) {
      metrics.change('changed_meanwhile');
      log.info({ sub: user.id }, 'password change lost a race: the stored password changed since it was verified');
      return renderForm(res, 409, session, user, 'changed-meanwhile');
    }
    if (outcome.legacyEventId) {
      log.info({ sub: user.id, eventId: outcome.legacyEventId }, 'password change queued for the legacy site');
      deps.legacyWrite?.queued(outcome.legacyEventId);
    }

    let revoked;
    try {
      revoked = await deps.revokeUserGrants(user.id, keep.keepGrantId ?? undefined, keep.keepSessionId);
    } catch (error) {
      // The change stands; the revocation waits in pending_revocations for the retrier.
      metrics.change('revoke_deferred');
      log.warn({ err: safeError(error), sub: user.id }, 'password changed; revoking the other grants and sessions failed and is left to the retrier');
      return send(res, 200, messagePage({ title: 'Your password was changed', message: REVOCATION_DEFERRED }));
    }
    if (outcome.revocationId) {
      // Failing to forget it only means the retrier revokes once more later.
      await deps.pendingRevocations
        .settle(outcome.revocationId)
        .catch((error: unknown) => log.warn({ err: error, sub: user.id }, 'a done revocation is still recorded as pending'));
    }
    metrics.change('success');
    metrics.revoked(revoked.grants, revoked.sessions);
    log.info({ sub: user.id, grantsRevoked: revoked.grants, sessionsEnded: revoked.sessions }, 'password changed; other grants and sessions revoked');
    send(
      res,
      200,
      messagePage({
        title: 'Your password was changed',
        message: 'Use your new password from now on. Every other device and application signed in to your account has been signed out.',
      }),
    );
  });

  // Errors of these routes only: a page without internals.
  app.use('/account', (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (isStoreUnavailableError(error)) return sendUnavailablePage(res);
    const unreadable = unreadableFormStatus(error);
    if (unreadable) {
      return send(res, unreadable, messagePage({ title: 'Your password was not changed', message: 'The form could not be read. Go back and try again.' }));
    }
    log.error({ err: error, path: req.path }, 'account page failed');
    send(res, 500, messagePage({ title: 'Your password was not changed', message: 'Something went wrong on our side. Please try again later.' }));
  });
}
