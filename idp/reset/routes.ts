// GET/POST /interaction/password-reset: "Forgot password?"; GET/POST .../new?token=: the mailed
// link's new-password form. Under /interaction/ because the gateway already sends that prefix to
// the idp; mounted before the interaction routes, whose /interaction/:uid would match it too.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { isStoreUnavailableError } from '../../lib/outage.ts';
import { hashPassword, hashPhpBcrypt, pbkdf2Scheme, type Pbkdf2Policy } from '../../lib/passwords/index.ts';
import { MAX_PASSWORD_LENGTH, newPasswordProblem } from '../account/password-rules.ts';
import { pageHeaders } from '../../lib/page-headers.ts';
import { messagePage, sendUnavailablePage, unreadableFormStatus } from '../interactions/index.ts';
import type { RevokeUserGrants } from '../oidc/index.ts';
import { createResetRequests, displayName, type ResetRequestDeps } from './requests.ts';
import { NEW_PASSWORD_PATH, newPasswordPage, requestedPage, requestPage, RESET_PATH } from './views.ts';
import type { PendingRevocations } from '../account/pending-revocations.ts';

export interface ResetDeps extends ResetRequestDeps {
  policy: Pbkdf2Policy;
  revokeUserGrants: RevokeUserGrants;
  /** The revocation each reset records with its new password, forgotten here once done (else left to revocation-retrier.ts). */
  pendingRevocations: PendingRevocations;
  /** Dual-write (as the password change): a user with a legacy id gets the new password as `$2y$` bcrypt at this cost. */
  legacyWrite?: { bcryptCost: number; queued(eventId: string): void };
}

export interface MountedReset {
  /** Waits for the requests still being handled after their page was sent (shutdown). */
  drain(): Promise<void>;
}

function send(res: Response, status: number, body: string): void {
  res
    .status(status)
    .set(pageHeaders({ ownAssets: true }))
    .send(body);
}

function field(body: unknown, name: string, max: number): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
}

const IDENTIFIER_MAX = 320;
/** Requests handled at once per replica (each a few queries and at most one adapter call). */
const MAX_IN_FLIGHT = 64;

export function mountReset(app: Express, deps: ResetDeps): MountedReset {
  const requests = createResetRequests(deps);
  const minutes = Math.round(deps.ttlSeconds / 60);
  const log = deps.logger.child({ component: 'password-reset' });
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 10 });
  const inFlight = new Set<Promise<void>>();

  const linkUnusable = (res: Response, expired: boolean) => {
    deps.metrics.completed(expired ? 'expired' : 'invalid');
    send(
      res,
      expired ? 410 : 404,
      messagePage({
        title: expired ? 'This link has expired' : 'This link does not work',
        message: `${expired ? `Reset links work for ${minutes} minutes.` : 'It was already used, or it is not complete.'} Ask for a new link from the sign-in page ("Forgot password?").`,
      }),
    );
  };

  app.get(RESET_PATH, (_req, res) => send(res, 200, requestPage()));

  app.post(RESET_PATH, form, (req, res) => {
    const identifier = field(req.body, 'identifier', IDENTIFIER_MAX + 1).trim();
    if (identifier === '' || identifier.length > IDENTIFIER_MAX) return send(res, 400, requestPage({ missing: true }));
    // The answer goes first, the same for every identifier; the work follows (requests.ts).
    send(res, 200, requestedPage(minutes));
    // A flood must not pile up unbounded background work: past the cap a request is dropped as throttled.
    if (inFlight.size >= MAX_IN_FLIGHT) return deps.metrics.requested('throttled');
    const work = requests.handle(identifier, req.ip).finally(() => inFlight.delete(work));
    inFlight.add(work);
  });

  app.get(NEW_PASSWORD_PATH, async (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const checked = await deps.tokens.check(token);
    if (!checked.ok) return linkUnusable(res, checked.reason === 'expired');
    send(res, 200, newPasswordPage({ token }));
  });

  app.post(NEW_PASSWORD_PATH, form, async (req, res) => {
    const token = field(req.body, 'token', 64);
    const checked = await deps.tokens.check(token);
    if (!checked.ok) return linkUnusable(res, checked.reason === 'expired');
    const next = field(req.body, 'new-password', MAX_PASSWORD_LENGTH + 1);
    const problem = newPasswordProblem(next, field(req.body, 'confirm-password', MAX_PASSWORD_LENGTH + 1));
    if (problem) {
      deps.metrics.completed('invalid_form');
      return send(res, 400, newPasswordPage({ token, problem }));
    }
    const user = await deps.users.findById(checked.userId);
    if (!user?.active) return linkUnusable(res, false);

    const newHash = await hashPassword(next, deps.policy);
    const legacyHash = deps.legacyWrite && user.legacyId !== null ? await hashPhpBcrypt(next, deps.legacyWrite.bcryptCost) : undefined;
    const outcome = await deps.users.resetPassword({
      userId: user.id,
      newHash,
      newScheme: pbkdf2Scheme.name,
      ...(legacyHash ? { legacyHash } : {}),
      claim: (trx) => deps.tokens.claim(trx, token, user.id),
    });
    // Spent or expired between the check and the claim (another tab, the clock): as if at the check.
    if (!outcome.changed) return linkUnusable(res, false);
    if (outcome.legacyEventId) {
      log.info({ sub: user.id, eventId: outcome.legacyEventId }, 'password reset queued for the legacy site');
      deps.legacyWrite?.queued(outcome.legacyEventId);
    }
    if (user.email) {
      try {
        await deps.mailer.enqueue('password-reset-done', user.email, { name: displayName(user) });
      } catch (error) {
        // The password is reset: a confirmation that could not be queued does not undo that.
        log.error({ err: error, sub: user.id }, 'password reset confirmation mail not queued');
      }
    }
    try {
      // Nobody is kept: the person with the link is not signed in, and whoever is may be the
      // reason for the reset.
      const revoked = await deps.revokeUserGrants(user.id);
      deps.metrics.completed('success');
      deps.metrics.revoked(revoked.grants, revoked.sessions);
      log.info({ sub: user.id, grantsRevoked: revoked.grants, sessionsEnded: revoked.sessions }, 'password reset; every grant and session revoked');
    } catch (error) {
      // The reset stands; its revocation waits in pending_revocations for the retrier.
      deps.metrics.completed('revoke_deferred');
      log.warn({ err: error, sub: user.id }, 'password reset; revoking the grants and sessions left to the retrier');
      return send(
        res,
        200,
        messagePage({
          title: 'Your password was changed',
          message: 'Sign in with your new password. Your other devices and applications could not be signed out yet: they will be within a few minutes.',
        }),
      );
    }
    if (outcome.revocationId) {
      await deps.pendingRevocations
        .settle(outcome.revocationId)
        .catch((error: unknown) => log.warn({ err: error, sub: user.id }, 'a done revocation is still recorded as pending'));
    }
    send(
      res,
      200,
      messagePage({
        title: 'Your password was changed',
        message: 'Sign in with your new password from your application. Every device and application signed in to your account has been signed out.',
      }),
    );
  });

  app.use(RESET_PATH, (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (isStoreUnavailableError(error)) return sendUnavailablePage(res);
    const unreadable = unreadableFormStatus(error);
    if (unreadable)
      return send(res, unreadable, messagePage({ title: 'Your password was not changed', message: 'The form could not be read. Go back and try again.' }));
    log.error({ err: error, path: req.path }, 'password reset page failed');
    send(res, 500, messagePage({ title: 'Your password was not changed', message: 'Something went wrong on our side. Please try again later.' }));
  });

  return {
    async drain() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
