import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import * as client from 'openid-client';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { LegacySessionCookie } from '../../contracts/legacy-session-cookie.ts';
import { BridgeUnavailableError, type BridgedSession, type SessionBridgeClient } from './bridge.ts';
import { isHttps, readCookie, setCookie } from '../cookies.ts';
import { sidKey, subKey, type LogoutIndex } from './logout-index.ts';
import { redirect, sendPage } from './http.ts';
import { legacySessionCookie } from './legacy-cookie.ts';
import { relyingPartyAction } from './paths.ts';
import { safeReturnTo } from './return-to.ts';
import { createTransactionCookies, TRANSACTION_COOKIE, TRANSACTION_TTL_SECONDS } from './transaction-cookie.ts';
import { safeError } from '../../lib/safe-error.ts';

export interface RelyingPartyOptions {
  /** The site's public origin: redirect URI, post-logout target, the origin return_to must stay on. */
  publicUrl: string;
  issuer: string;
  clientId: string;
  cookieSecret: string;
  provider: () => Promise<client.Configuration>;
  bridge: SessionBridgeClient;
  /** Where each PHP session made here is recorded under its idp session and user, for back-channel logout. */
  logoutIndex: LogoutIndex;
  /** How long a PHP session lives (LEGACY_SESSION_LIFETIME): how long its record is kept. */
  legacySessionLifetimeSeconds: number;
  /** POST /auth/backchannel-logout (./backchannel-logout.ts). */
  backchannelLogout: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  trusted: (address: string | undefined) => boolean;
  logger: Logger;
}

const ALLOWED = { login: 'GET, HEAD', callback: 'GET', logout: 'GET, HEAD, POST', 'backchannel-logout': 'POST' } as const;

/** Only where the sign-in cookie is needed: the callback. */
const TRANSACTION_PATH = '/auth/callback';

export interface RelyingParty {
  /** /auth/login, /auth/callback and /auth/logout. */
  handler: RequestListener;
  /** The logout on any path (a monolith's logout page flipped to `action: signout`). */
  signout: RequestListener;
}

/**
 * CSRF on the logout: whether a browser says this POST comes from another site. Sec-Fetch-Site
 * decides when the browser sends it: Origin can be `null` on a same-origin form post (a page
 * with Referrer-Policy: no-referrer, as the gateway's own "sign out?" page is, or one reached
 * through a redirect), so it is read only from browsers without Fetch Metadata. Neither header:
 * not a browser form.
 */
export function crossSite(req: IncomingMessage, origin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const from = req.headers.origin;
  return from !== undefined && from !== origin;
}

/**
 * /auth/login, /auth/callback and /auth/logout: an OpenID Connect sign-in (authorization code,
 * PKCE S256, state and nonce; openid-client validates the response and the ID token) that ends
 * with a fresh PHP session for the user's legacy account, and a logout that ends both; and
 * /auth/backchannel-logout, where the idp ends the PHP sessions of an idp session ended elsewhere.
 */
export function createRelyingParty(options: RelyingPartyOptions): RelyingParty {
  const origin = new URL(options.publicUrl).origin;
  const redirectUri = `${origin}/auth/callback`;
  const postLogoutRedirectUri = `${origin}/`;
  const issuerOrigin = new URL(options.issuer).origin;
  const transactions = createTransactionCookies(options.cookieSecret);
  const clearTransaction = (secure: boolean) => setCookie(TRANSACTION_COOKIE, '', { path: TRANSACTION_PATH, secure, maxAge: 0 });

  function unavailable(res: ServerResponse, error: unknown, step: string) {
    currentLogger(options.logger).error({ step, err: safeError(error) }, 'session bridge: a service is unavailable');
    sendPage(res, 503, 'Try again in a moment', 'Signing in is unavailable right now. Please try again in a moment.', { headers: [['retry-after', '5']] });
  }

  async function login(req: IncomingMessage, res: ServerResponse, url: URL) {
    const returnTo = safeReturnTo(url.searchParams.get('return_to'), origin);
    if (returnTo === undefined)
      return sendPage(res, 400, 'Bad sign-in link', 'This sign-in link points somewhere it may not. Go back to the site and sign in from there.');
    let configuration: client.Configuration;
    try {
      configuration = await options.provider();
    } catch (error) {
      return unavailable(res, error, 'discovery');
    }
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: 'openid',
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const secure = isHttps(req, options.trusted);
    const cookie = setCookie(TRANSACTION_COOKIE, transactions.seal({ state, nonce, codeVerifier, returnTo }), {
      path: TRANSACTION_PATH,
      secure,
      maxAge: TRANSACTION_TTL_SECONDS,
    });
    redirect(res, authorizationUrl.href, [cookie]);
  }

  async function callback(req: IncomingMessage, res: ServerResponse, url: URL) {
    const secure = isHttps(req, options.trusted);
    const transaction = transactions.open(readCookie(req, TRANSACTION_COOKIE));
    const log = currentLogger(options.logger);
    if (!transaction) {
      log.warn('session bridge: callback without a valid sign-in cookie (expired, tampered, or another browser)');
      return sendPage(res, 400, 'Sign-in expired', 'This sign-in has expired or was started elsewhere. Please sign in again.', {
        headers: [['set-cookie', clearTransaction(secure)]],
      });
    }
    let configuration: client.Configuration;
    try {
      configuration = await options.provider();
    } catch (error) {
      return unavailable(res, error, 'discovery');
    }
    // The redirect URI as registered (not as the Host header says), with the idp's answer.
    const current = new URL(redirectUri);
    current.search = url.search;
    let sub: string;
    let sid: string | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, current, {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims?.sub) throw new Error('no ID token subject');
      sub = claims.sub;
      sid = typeof claims.sid === 'string' && claims.sid ? claims.sid : undefined;
    } catch (error) {
      // Never the response itself (it may carry a code or tokens): the kind of error only.
      const e = error as { name?: string; code?: string; error?: string; cause?: { name?: string } };
      const network = new Set(['TypeError', 'TimeoutError', 'AbortError']);
      if (network.has(e.name ?? '') || network.has(e.cause?.name ?? '')) return unavailable(res, error, 'token');
      log.warn({ err: { name: e.name, code: e.code, error: e.error } }, 'session bridge: sign-in response refused');
      return sendPage(res, 400, 'Sign-in failed', 'The sign-in could not be completed. Please sign in again.', {
        headers: [['set-cookie', clearTransaction(secure)]],
      });
    }
    let session: BridgedSession | undefined;
    try {
      const legacyId = await options.bridge.legacyIdOf(sub);
      if (legacyId === undefined) {
        log.warn({ sub }, 'session bridge: the idp user has no legacy account');
        return sendPage(res, 403, 'No account on this site', 'You are signed in, but your account has no access to this site.', {
          headers: [['set-cookie', clearTransaction(secure)]],
        });
      }
      // No session fixation: whatever session id the browser brought is dropped, a new one is made.
      const previous = readCookie(req, (await options.bridge.cookie()).name);
      if (previous) await options.bridge.deleteSession(previous);
      session = await options.bridge.createSession(legacyId);
      if (session === undefined) {
        log.warn({ sub }, 'session bridge: the legacy account is unknown or inactive on the monolith');
        return sendPage(res, 403, 'No account on this site', 'You are signed in, but your account has no access to this site.', {
          headers: [['set-cookie', clearTransaction(secure)]],
        });
      }
    } catch (error) {
      if (error instanceof BridgeUnavailableError) return unavailable(res, error, 'session');
      throw error;
    }
    try {
      // Unrecorded, the PHP session would outlive a sign-out elsewhere: no record, no session.
      await options.logoutIndex.remember(
        sid === undefined ? [subKey(sub)] : [sidKey(sid), subKey(sub)],
        session.sessionId,
        options.legacySessionLifetimeSeconds,
      );
    } catch (error) {
      await options.bridge.deleteSession(session.sessionId).catch(() => undefined);
      return unavailable(res, error, 'logout-index');
    }
    log.info({ sub }, 'session bridge: signed in, PHP session created');
    // Checked again: a cookie sealed under older rules (or by anyone holding the key) must not
    // choose where a signed-in browser goes; the user lands on the home page instead.
    redirect(res, safeReturnTo(transaction.returnTo, origin) ?? '/', [
      clearTransaction(secure),
      legacySessionCookie(session.cookie, session.sessionId, secure),
    ]);
  }

  async function logout(req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'GET' || req.method === 'HEAD') {
      // A page with a button, not a GET that logs out: a link on another site cannot sign anyone out.
      return sendPage(res, 200, 'Sign out', 'Sign out of this site?', {
        form: { action: '/auth/logout', button: 'Sign out' },
        formTargets: issuerOrigin === origin ? [] : [issuerOrigin],
      });
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'GET, HEAD, POST');
      return sendPage(res, 405, 'Method not allowed', 'Use the sign-out button.');
    }
    if (crossSite(req, origin)) {
      currentLogger(options.logger).warn('session bridge: cross-site logout refused');
      return sendPage(res, 403, 'Sign out', 'Sign out from this site’s own page.', { form: { action: '/auth/logout', button: 'Sign out' } });
    }
    const secure = isHttps(req, options.trusted);
    let configuration: client.Configuration;
    let cookie: LegacySessionCookie;
    try {
      cookie = await options.bridge.cookie();
      const sessionId = readCookie(req, cookie.name);
      if (sessionId) await options.bridge.deleteSession(sessionId);
      configuration = await options.provider();
    } catch (error) {
      // The PHP session could not be ended: keep the cookie, say so, let the user try again.
      return unavailable(res, error, 'logout');
    }
    const endSession = client.buildEndSessionUrl(configuration, { client_id: options.clientId, post_logout_redirect_uri: postLogoutRedirectUri });
    redirect(res, endSession.href, [legacySessionCookie(cookie, undefined, secure)], 303);
  }

  function settle(run: Promise<void>, res: ServerResponse) {
    run.catch((error: unknown) => {
      currentLogger(options.logger).error({ err: safeError(error) }, 'session bridge failed');
      if (!res.headersSent) sendPage(res, 500, 'Something went wrong', 'Please try again.');
      else res.destroy();
    });
  }

  return {
    handler(req, res) {
      const action = relyingPartyAction(req.url ?? '/');
      const url = new URL(req.url ?? '/', origin);
      const run = (() => {
        if (action === 'login') return req.method === 'GET' || req.method === 'HEAD' ? login(req, res, url) : undefined;
        if (action === 'callback') return req.method === 'GET' ? callback(req, res, url) : undefined;
        if (action === 'logout') return logout(req, res);
        if (action === 'backchannel-logout') return req.method === 'POST' ? options.backchannelLogout(req, res) : undefined;
        return undefined;
      })();
      if (!run) {
        res.setHeader('allow', ALLOWED[action ?? 'callback']);
        return sendPage(
          res,
          action ? 405 : 404,
          action ? 'Method not allowed' : 'Not found',
          action ? 'This address does not take that method.' : 'Nothing here.',
        );
      }
      settle(run, res);
    },
    signout(req, res) {
      settle(logout(req, res), res);
    },
  };
}
