// The browser steps of a sign-in at the idp that the session-bridge tests share: a login on the
// monolith's own form, an authorization request walked to the password page or the code, and
// the token endpoint.
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { authorizeUrl, type FormClient } from '../../scripts/support/form-client.ts';
import { LEGACY_DEMO_PASSWORD } from '../../scripts/support/legacy-php.ts';
import { allowConsent, CLIENT_SECRET, submitPassword } from '../../scripts/support/stack.ts';

/** A client of the stack's clients file: its id and the scope it asks for. */
export interface TestClient {
  id: string;
  scope: string;
}

/** The gateway's own client: openid only, no refresh tokens. */
export const GATEWAY_CLIENT: TestClient = { id: 'gateway', scope: 'openid' };
/** Another web app of the stack, which may ask for offline_access (refresh tokens). */
export const OFFLINE_CLIENT: TestClient = { id: 'offline-app', scope: 'openid offline_access' };

/** Logs in on the monolith's own login.php (through the gateway) and returns the PHP session id. */
export async function phpLogin(browser: FormClient, login: string): Promise<string> {
  const form = await browser.request('/login.php');
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await browser.request('/login.php', { form: { csrf_token: csrf, login, password: LEGACY_DEMO_PASSWORD } });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), 'account.php');
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('PHPSESSID='));
  assert.ok(cookie, 'login.php set the session cookie');
  const account = await browser.request('/account.php');
  assert.match(await account.text(), new RegExp(`<td id="account-login">${login}</td>`));
  return /^PHPSESSID=([^;]+)/.exec(cookie)![1]!;
}

export type Outcome = { kind: 'password'; uid: string; body: string; verifier: string } | { kind: 'code'; code: string; verifier: string; callback: string };

/**
 * An authorization request of `client` (the gateway's by default) at the public issuer, walked like a browser
 * (consent allowed when asked) until the idp's password page or the redirect with a code.
 */
export async function authorize(
  browser: FormClient,
  gateway: string,
  extra: Record<string, string> = {},
  client: TestClient = GATEWAY_CLIENT,
): Promise<Outcome> {
  const { url, verifier } = authorizeUrl(client.id, `${gateway}/auth/callback`, client.scope, { nonce: 'n-0S6_WzA2Mj', ...extra });
  return walk(browser, gateway, await browser.request(url), new URL(url, gateway).href, verifier);
}

/** Follows the browser's way from `res` (at `current`) to the password page or the code. */
export async function walk(browser: FormClient, gateway: string, res: Response, current: string, verifier: string): Promise<Outcome> {
  for (let hop = 0; hop < 15; hop++) {
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location') ?? '', current);
      await res.body?.cancel();
      if (next.pathname === '/auth/callback') {
        const code = next.searchParams.get('code');
        assert.ok(code, `a code in ${next.href}`);
        return { kind: 'code', code, verifier, callback: next.href };
      }
      current = next.href;
      res = await browser.request(current);
      continue;
    }
    const body = await res.text();
    assert.equal(res.status, 200, body);
    const uid = /\/interaction\/([^/?#]+)$/.exec(new URL(current).pathname)?.[1];
    assert.ok(uid, `an interaction page (${current})`);
    if (/name="identifier"/.test(body)) return { kind: 'password', uid, body, verifier };
    res = await allowConsent(browser, uid, body);
    current = new URL(`/interaction/${uid}/confirm`, gateway).href;
  }
  throw new Error('too many redirects');
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  id_token?: string;
  refresh_token?: string;
  scope?: string;
}

/** A grant at the token endpoint, `client` authenticating with the stack's client secret. */
export async function tokenRequest(gateway: string, params: Record<string, string>, client: TestClient = GATEWAY_CLIENT): Promise<TokenResponse> {
  const res = await fetch(`${gateway}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.id}:${CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  const json = (await res.json()) as TokenResponse;
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

/** The code of `outcome` exchanged for tokens. */
export function redeemCode(gateway: string, outcome: Outcome, client: TestClient = GATEWAY_CLIENT): Promise<TokenResponse> {
  assert.equal(outcome.kind, 'code', 'signed in without a password');
  if (outcome.kind !== 'code') throw new Error('unreachable');
  return tokenRequest(
    gateway,
    { grant_type: 'authorization_code', code: outcome.code, redirect_uri: `${gateway}/auth/callback`, code_verifier: outcome.verifier },
    client,
  );
}

/** The claims of the ID token the code of `outcome` is exchanged for. */
export async function idToken(gateway: string, outcome: Outcome, client: TestClient = GATEWAY_CLIENT): Promise<Record<string, unknown>> {
  return decodeJwt((await redeemCode(gateway, outcome, client)).id_token!) as Record<string, unknown>;
}

export async function passwordLogin(browser: FormClient, gateway: string, outcome: Outcome, login: string, password?: string): Promise<Outcome> {
  if (outcome.kind !== 'password') throw new Error('expected the password page');
  const path = `/interaction/${outcome.uid}/login`;
  const res = await submitPassword(browser, outcome.uid, outcome.body, login, password);
  assert.equal(res.status, 303);
  return walk(browser, gateway, res, new URL(path, gateway).href, outcome.verifier);
}

/** Follows same-origin redirects by hand until one leads to `stopAt` (a path), or a page is reached. */
export async function followRedirects(browser: FormClient, first: Response, from: string, stopAt?: string): Promise<{ res: Response; url: string }> {
  let res = first;
  let url = from;
  for (let hop = 0; hop < 12 && res.status >= 300 && res.status < 400; hop++) {
    const next = new URL(res.headers.get('location') ?? '', url);
    if (stopAt && next.pathname === stopAt) return { res, url: next.href };
    await res.body?.cancel();
    url = next.href;
    res = await browser.request(url);
  }
  return { res, url };
}

/** /auth/login at the gateway, the idp's login page (and consent if asked); stops before the callback. */
export async function signInAtIdp(browser: FormClient, login: string, returnTo = '/account.php'): Promise<string> {
  return (await signInWithCookie(browser, login, returnTo)).callback;
}

/** The same, also returning the sign-in cookie /auth/login set. */
export async function signInWithCookie(browser: FormClient, login: string, returnTo = '/account.php'): Promise<{ callback: string; cookie: string }> {
  const start = await browser.request(`/auth/login?return_to=${encodeURIComponent(returnTo)}`);
  assert.equal(start.status, 302);
  const cookie = start.headers.getSetCookie().find((c) => c.startsWith('gw_signin=')) ?? '';
  let page = await followRedirects(browser, start, new URL('/auth/login', browser.base).href);
  let body = await page.res.text();
  const uid = /\/interaction\/([^/?#]+)$/.exec(page.url)?.[1];
  assert.ok(uid, `the idp's login page (${page.url})`);
  assert.match(body, /name="identifier"/);
  let res = await submitPassword(browser, uid, body, login);
  page = await followRedirects(browser, res, new URL(`/interaction/${uid}/login`, browser.base).href, '/auth/callback');
  const consent = /\/interaction\/([^/?#]+)$/.exec(new URL(page.url).pathname)?.[1];
  if (consent && page.res.status === 200) {
    body = await page.res.text();
    res = await allowConsent(browser, consent, body);
    page = await followRedirects(browser, res, new URL(`/interaction/${consent}/confirm`, browser.base).href, '/auth/callback');
  }
  assert.equal(new URL(page.url).pathname, '/auth/callback', `redirected back to the gateway (${page.url}, ${page.res.status})`);
  return { callback: page.url, cookie };
}
