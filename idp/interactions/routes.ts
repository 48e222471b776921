// The interaction routes oidc-provider sends the browser to (interactions.url =
// /interaction/:uid): login, consent and abort. Mount before provider.callback().
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import { isStoreUnavailableError } from '../../lib/outage.ts';
import type { LoginService, UserDirectory } from '../login/types.ts';
import type { LoginThrottle } from '../throttle/index.ts';
import { createCsrfTokens, type CsrfTokens } from './csrf.ts';
import { unreadableFormStatus } from './form-errors.ts';
import { RETRY_AFTER_SECONDS, sendUnavailablePage } from './unavailable.ts';
import { checkPassword } from './password-check.ts';
import {
  LEGACY_SESSION_AMR,
  legacySessionApplies,
  legacySessionCookie,
  legacySessionMetrics,
  signedInByLegacySession,
  type LegacySessionStep,
} from './legacy-session.ts';
import { createLoginFormMetrics } from './login-form-metrics.ts';
import type { ClientLike, GrantLike, InteractionDetails, InteractionProvider } from './provider-types.ts';
import { describeClaim, describeScope } from './scope-descriptions.ts';
import { pageHeaders } from '../../lib/page-headers.ts';
import { consentPage, loginPage, messagePage, type LoginProblem } from './views.ts';

export interface InteractionDeps {
  login: LoginService;
  users: UserDirectory;
  throttle: LoginThrottle;
  logger: Logger;
  /** The key of the per-interaction CSRF tokens (IDP_INTERACTION_SECRET); the same on every replica. */
  csrfSecret: string;
  /** The service's metrics registry (HttpMetrics.registry); logins by result, throttled attempts. */
  metrics?: { registry: Registry };
  /** Shown as "Forgot password?" when set (IDP_FORGOT_PASSWORD_URL). */
  forgotPasswordUrl?: string;
  /** Accept the monolith's live session as the login (IDP_ACCEPT_LEGACY_SESSION); absent: never. */
  legacySession?: LegacySessionStep;
}

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
const FIELD_MAX = 1024;

class InteractionGone extends Error {}

function send(res: Response, status: number, body: string, formTargets: (string | undefined)[] = []): void {
  res
    .status(status)
    .set(pageHeaders({ formTargets, ownAssets: true }))
    .send(body);
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, FIELD_MAX) : '';
}

function clientDisplayName(client: ClientLike | undefined, fallback: string): string {
  return client?.clientName || client?.clientId || fallback;
}

export function mountInteractions(app: Express, provider: InteractionProvider, deps: InteractionDeps): void {
  const csrf: CsrfTokens = createCsrfTokens(deps.csrfSecret);
  const metrics = createLoginFormMetrics(deps.metrics?.registry);
  const log = deps.logger.child({ component: 'interactions' });
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const countLegacySession = legacySessionMetrics(deps.metrics?.registry);

  app.use(
    '/interaction/static',
    express.static(STATIC_DIR, { index: false, fallthrough: false, maxAge: '1h', setHeaders: (res) => res.set('x-content-type-options', 'nosniff') }),
  );

  /** The interaction behind this request, which must be the one the URL names. */
  async function details(req: Request, res: Response): Promise<InteractionDetails> {
    let found: InteractionDetails;
    try {
      found = await provider.interactionDetails(req, res);
    } catch (error) {
      if ((error as Error).name === 'SessionNotFound') throw new InteractionGone();
      throw error;
    }
    if (found.uid !== req.params.uid) throw new InteractionGone();
    return found;
  }

  const redirectUri = (d: InteractionDetails) => (typeof d.params.redirect_uri === 'string' ? d.params.redirect_uri : undefined);

  async function renderLogin(res: Response, d: InteractionDetails, status: number, view: { identifier?: string; problem?: LoginProblem }) {
    const client = await provider.Client.find(String(d.params.client_id));
    const hint = typeof d.params.login_hint === 'string' ? d.params.login_hint.slice(0, 256) : undefined;
    send(
      res,
      status,
      loginPage({
        uid: d.uid,
        csrf: csrf.issue(d.uid),
        clientName: clientDisplayName(client, String(d.params.client_id)),
        identifier: view.identifier ?? hint,
        problem: view.problem,
        forgotPasswordUrl: deps.forgotPasswordUrl,
      }),
      [redirectUri(d)],
    );
  }

  /** What the client asked for and may have: scopes beyond its registration are never granted. */
  function consentRequest(d: InteractionDetails, client: ClientLike | undefined) {
    const allowed = client?.scope ? new Set(client.scope.split(' ')) : undefined;
    const details = d.prompt.details;
    const scopes = (details.missingOIDCScope ?? []).filter((s) => !allowed || allowed.has(s));
    const claims = details.missingOIDCClaims ?? [];
    const resources = Object.entries(details.missingResourceScopes ?? {}).map(([resource, list]) => ({ resource, scopes: list }));
    return { scopes, claims, resources };
  }

  async function renderConsent(res: Response, d: InteractionDetails) {
    const client = await provider.Client.find(String(d.params.client_id));
    const accountId = d.session?.accountId;
    const user = accountId ? await deps.users.findById(accountId) : undefined;
    send(
      res,
      200,
      consentPage(
        {
          uid: d.uid,
          csrf: csrf.issue(d.uid),
          clientName: clientDisplayName(client, String(d.params.client_id)),
          accountName: user ? (user.name ?? user.username ?? user.email ?? undefined) : undefined,
          ...consentRequest(d, client),
        },
        { scope: describeScope, claim: describeClaim },
      ),
      [redirectUri(d)],
    );
  }

  /** A POST whose token does not match its interaction is refused before anything else. */
  function refuseForgery(res: Response, d: InteractionDetails, token: unknown): boolean {
    if (csrf.verify(d.uid, token)) return false;
    log.warn({ uid: d.uid }, 'interaction form refused: missing or wrong CSRF token');
    send(res, 403, messagePage({ title: 'This form has expired', message: 'Go back to the application and start signing in again.' }));
    return true;
  }

  const showCurrentStep = (res: Response, uid: string) => res.redirect(303, `/interaction/${encodeURIComponent(uid)}`);

  /**
   * The login step done by the monolith's session, if it is live and the step allows it; false
   * (the password page follows) on any doubt or failure. Never logs the session id.
   */
  async function signInWithLegacySession(req: Request, res: Response, d: InteractionDetails): Promise<boolean> {
    const step = deps.legacySession;
    if (!step || !legacySessionApplies(d)) return false;
    const sessionId = legacySessionCookie(req, await step.cookieName());
    if (sessionId === undefined) return false;
    if (sessionId === null) {
      countLegacySession('invalid');
      return false;
    }
    const hint = typeof d.params.login_hint === 'string' ? d.params.login_hint : undefined;
    let outcome;
    try {
      outcome = await step.login.signIn(sessionId, hint);
    } catch (error) {
      // The idp's own store failing here: the password page may still work.
      log.error({ uid: d.uid, err: { name: (error as Error).name, code: (error as { code?: unknown }).code } }, 'legacy session sign-in failed');
      outcome = { ok: false, reason: 'unavailable' } as const;
    }
    countLegacySession(outcome.ok ? 'accepted' : outcome.reason);
    if (!outcome.ok) return false;
    log.info({ uid: d.uid, sub: outcome.user.id }, 'login by legacy session');
    await provider.interactionFinished(req, res, { login: { accountId: outcome.user.id, amr: [LEGACY_SESSION_AMR] } }, { mergeWithLastSubmission: false });
    return true;
  }

  app.get('/interaction/:uid', async (req, res) => {
    const d = await details(req, res);
    if (d.prompt.name === 'login' && (await signInWithLegacySession(req, res, d))) return;
    if (d.prompt.name === 'login') return renderLogin(res, d, 200, {});
    if (d.prompt.name === 'consent') {
      const client = await provider.Client.find(String(d.params.client_id));
      // The organisation's own application asks nothing of the user, unless it asked for the page itself.
      if (
        client?.first_party === true &&
        !String(d.params.prompt ?? '')
          .split(' ')
          .includes('consent')
      )
        return grantConsent(req, res, d, client);
      return renderConsent(res, d);
    }
    log.error({ prompt: d.prompt.name }, 'interaction prompt without a page');
    send(res, 501, messagePage({ title: 'Sign-in could not continue', message: 'This kind of sign-in step is not supported. Go back to the application.' }));
  });

  app.post('/interaction/:uid/login', form, async (req, res) => {
    const d = await details(req, res);
    if (refuseForgery(res, d, req.body?.csrf)) return;
    if (d.prompt.name !== 'login') return showCurrentStep(res, d.uid);
    const identifier = field(req.body, 'identifier').trim();
    const password = field(req.body, 'password');
    if (!identifier || !password) {
      metrics.login('invalid_form');
      const problem: LoginProblem = !identifier && !password ? 'missing-both' : !identifier ? 'missing-identifier' : 'missing-password';
      return renderLogin(res, d, 400, { identifier, problem });
    }
    const check = await checkPassword(deps.login, deps.throttle, identifier, password, req.ip);
    if (!check.ok && check.reason === 'throttled') {
      metrics.login('throttled');
      metrics.throttled(check.subject);
      log.warn({ uid: d.uid, subject: check.subject, retryAfterMs: check.retryAfterMs }, 'login throttled');
      res.set('retry-after', String(Math.max(1, Math.ceil(check.retryAfterMs / 1000))));
      return renderLogin(res, d, 429, { identifier, problem: 'throttled' });
    }
    if (!check.ok && check.reason === 'unavailable') {
      metrics.login('unavailable');
      log.warn({ uid: d.uid }, 'login not decided: the legacy-adapter is unavailable or the password workers are busy');
      res.set('retry-after', String(RETRY_AFTER_SECONDS));
      return renderLogin(res, d, 503, { identifier, problem: 'unavailable' });
    }
    if (!check.ok) {
      metrics.login('failure');
      log.info({ uid: d.uid, account: check.subjects.account }, 'login failed');
      return renderLogin(res, d, 401, { identifier, problem: 'incorrect' });
    }
    metrics.login('success');
    log.info({ uid: d.uid, sub: check.user.id }, 'login succeeded');
    await provider.interactionFinished(req, res, { login: { accountId: check.user.id, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
  });

  app.post('/interaction/:uid/confirm', form, async (req, res) => {
    const d = await details(req, res);
    if (refuseForgery(res, d, req.body?.csrf)) return;
    if (d.prompt.name !== 'consent') return showCurrentStep(res, d.uid);
    const decision = field(req.body, 'decision');
    if (decision !== 'allow') {
      log.info({ uid: d.uid, client: d.params.client_id }, 'consent denied');
      return provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user denied the request' },
        { mergeWithLastSubmission: false },
      );
    }
    return grantConsent(req, res, d, await provider.Client.find(String(d.params.client_id)));
  });

  /** Grants what the client asked for and may have (the user said yes, or the client is first-party). */
  async function grantConsent(req: Request, res: Response, d: InteractionDetails, client: ClientLike | undefined) {
    const accountId = d.session?.accountId;
    if (!accountId) return showCurrentStep(res, d.uid);
    const grant: GrantLike | undefined = d.grantId
      ? await provider.Grant.find(d.grantId)
      : new provider.Grant({
          accountId,
          clientId: String(d.params.client_id),
          ...(deps.legacySession && signedInByLegacySession(d) ? { expiresIn: deps.legacySession.lifetimeSeconds } : {}),
        });
    if (!grant) throw new InteractionGone();
    const asked = consentRequest(d, client);
    if (asked.scopes.length) grant.addOIDCScope(asked.scopes.join(' '));
    if (asked.claims.length) grant.addOIDCClaims(asked.claims);
    for (const { resource, scopes } of asked.resources) if (scopes.length) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    log.info({ uid: d.uid, client: d.params.client_id, firstParty: client?.first_party === true }, 'consent given');
    await provider.interactionFinished(req, res, { consent: d.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }

  const abort = async (req: Request, res: Response) => {
    const d = await details(req, res);
    const token = req.method === 'GET' ? req.query.csrf : req.body?.csrf;
    if (refuseForgery(res, d, token)) return;
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The user cancelled the sign-in' },
      { mergeWithLastSubmission: false },
    );
  };
  app.get('/interaction/:uid/abort', abort);
  app.post('/interaction/:uid/abort', form, abort);

  // Errors of these routes only: a page without internals.
  app.use('/interaction', (error: unknown, req: Request, res: Response, next: (error?: unknown) => void) => {
    if (res.headersSent) return next(error);
    if (error instanceof InteractionGone) {
      return send(res, 400, messagePage({ title: 'This sign-in has expired', message: 'Go back to the application and start signing in again.' }));
    }
    const status = (error as { status?: unknown }).status;
    if (status === 404) return send(res, 404, messagePage({ title: 'Page not found', message: 'There is nothing at this address.' }));
    const unreadable = unreadableFormStatus(error);
    if (unreadable) {
      return send(res, unreadable, messagePage({ title: 'Sign-in could not continue', message: 'The form could not be read. Go back and try again.' }));
    }
    // Redis (interactions, sessions, throttle counts) failed while this request used it.
    if (isStoreUnavailableError(error)) return sendUnavailablePage(res);
    log.error({ err: error, path: req.path }, 'interaction failed');
    send(res, 500, messagePage({ title: 'Sign-in could not continue', message: 'Something went wrong on our side. Please try again later.' }));
  });
}
