// Headless Chromium against the real idp (idp/main.ts in its own process, the real
// oidc-provider configuration, the real just-in-time login): a person signs in through the
// login page (code + PKCE, exchanged with openid-client), a single-page app signs in with
// response_type=id_token token, and the login and consent pages are photographed on a phone
// and a desktop viewport into test-artifacts/idp-browser/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { startIdpProcess, type IdpProcess } from '../support/idp.ts';
import { artifact, launchChromium, selfSignedCertificate, startSpaServer, type SpaServer } from './support.ts';

const SPA_HOST = 'spa.test';
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 800 } };

let idp: IdpProcess | undefined;
let spa: SpaServer | undefined;
let rp: { server: Server; redirectUri: string } | undefined;
let browser: Browser | undefined;
let tlsDir: string | undefined;
let skipped: string | undefined;

before(async (t) => {
  // The native app's loopback listener: where the browser lands with the code.
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('Signed in. You can close this window.'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rp = { server, redirectUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback` };

  tlsDir = mkdtempSync(join(tmpdir(), 'idm-spa-tls-'));
  spa = await startSpaServer(SPA_HOST, selfSignedCertificate(tlsDir, SPA_HOST));

  idp = await startIdpProcess([
    {
      client_id: 'browser-native',
      client_name: 'Native test app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: [rp.redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid profile email offline_access',
    },
    {
      client_id: 'browser-spa',
      client_name: 'Single-page test app',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      redirect_uris: [`${spa.origin}/callback.html`],
      response_types: ['id_token token'],
      grant_types: ['implicit'],
      scope: 'openid profile email',
    },
  ]);
  Object.assign(spa.config, { issuer: idp.issuer, clientId: 'browser-spa', redirectUri: `${spa.origin}/callback.html`, scope: 'openid profile email' });

  browser = await launchChromium(t as never, [`--host-resolver-rules=MAP ${SPA_HOST} 127.0.0.1`, '--ignore-certificate-errors']);
  if (!browser) skipped = 'chromium is not installed';
});

after(async () => {
  await browser?.close();
  await idp?.close();
  await spa?.close();
  if (rp) await new Promise<void>((resolve) => rp!.server.close(() => resolve()));
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

/** A context whose console is watched for CSP violations (a blocked form redirect shows there). */
async function newContext(options: Parameters<Browser['newContext']>[0]): Promise<{ context: BrowserContext; page: Page; cspViolations: string[] }> {
  const context = await browser!.newContext(options);
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return { context, page, cspViolations };
}

const activeElementId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? document.activeElement?.tagName ?? '');

async function nativeConfig() {
  return oidc.discovery(new URL(idp!.issuer), 'browser-native', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

async function startCodeFlow(page: Page) {
  const config = await nativeConfig();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: rp!.redirectUri,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  await page.goto(url.href);
  await page.waitForSelector('h1:text("Sign in")');
  return { config, verifier, state };
}

test('a person signs in through the login page with the keyboard (code + PKCE), on a phone', async (t) => {
  if (skipped) return t.skip(skipped);
  const { context, page, cspViolations } = await newContext(PHONE);
  try {
    const flow = await startCodeFlow(page);
    assert.equal(await activeElementId(page), 'identifier', 'focus starts in the first field');
    await page.screenshot({ path: artifact('login-phone.png'), fullPage: true });

    // Keyboard only: type, Tab, type, Enter.
    await page.keyboard.type(idp!.user.username);
    await page.keyboard.press('Tab');
    assert.equal(await activeElementId(page), 'password');
    await page.keyboard.type(idp!.user.password);
    await page.keyboard.press('Enter');

    await page.waitForSelector('button[value="allow"]');
    assert.match((await page.textContent('h1')) ?? '', /Allow Native test app to use your account\?/);
    const permissions = await page.$$eval('.permissions li', (items) => items.map((li) => li.textContent?.trim()));
    assert.deepEqual(permissions.map((p) => /\((\w+)\)$/.exec(p ?? '')?.[1]).sort(), ['email', 'openid', 'profile']);
    await page.screenshot({ path: artifact('consent-phone.png'), fullPage: true });

    // Tab to "Allow" and press Enter.
    for (let i = 0; i < 5 && (await page.evaluate(() => (document.activeElement as HTMLButtonElement | null)?.value)) !== 'allow'; i++)
      await page.keyboard.press('Tab');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(rp!.redirectUri)), page.keyboard.press('Enter')]);

    const callback = new URL(page.url());
    assert.ok(callback.searchParams.get('code'));
    assert.equal(callback.searchParams.get('iss'), idp!.issuer);
    const tokens = await oidc.authorizationCodeGrant(flow.config, callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    const claims = tokens.claims();
    assert.ok(claims?.sub);
    const userinfo = await oidc.fetchUserInfo(flow.config, tokens.access_token, claims.sub);
    assert.equal(userinfo.email, 'alice@example.test');
    assert.match((await idp!.storedScheme()) ?? '', /pbkdf2/, 'the legacy hash was upgraded on the way');
    assert.deepEqual(cspViolations, [], 'no CSP violation on the way (form-action allowed the redirect chain)');
  } finally {
    await context.close();
  }
});

test('on a desktop: the generic error takes focus, then Deny returns access_denied to the app', async (t) => {
  if (skipped) return t.skip(skipped);
  const { context, page, cspViolations } = await newContext(DESKTOP);
  try {
    const flow = await startCodeFlow(page);
    await page.screenshot({ path: artifact('login-desktop.png'), fullPage: true });

    await page.fill('#identifier', idp!.user.username);
    await page.fill('#password', 'not the password');
    await page.click('button[type="submit"]:text("Sign in")');
    await page.waitForSelector('#error-summary');
    assert.equal(await activeElementId(page), 'error-summary', 'focus moves to the error summary');
    assert.match((await page.textContent('#error-summary')) ?? '', /Incorrect login or password/);
    await page.screenshot({ path: artifact('login-error-desktop.png'), fullPage: true });
    // The summary's link leads to the field.
    await page.click('#error-summary a');
    assert.equal(await activeElementId(page), 'identifier');

    await page.fill('#password', idp!.user.password);
    await page.click('button[type="submit"]:text("Sign in")');
    await page.waitForSelector('button[value="deny"]');
    await page.screenshot({ path: artifact('consent-desktop.png'), fullPage: true });

    await Promise.all([page.waitForURL((url) => url.href.startsWith(rp!.redirectUri)), page.click('button[value="deny"]')]);
    const callback = new URL(page.url());
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), flow.state);
    assert.equal(callback.searchParams.get('code'), null);
    assert.deepEqual(cspViolations, []);
  } finally {
    await context.close();
  }
});

test('a single-page app signs in with response_type=id_token token and verifies at_hash', async (t) => {
  if (skipped) return t.skip(skipped);
  const { context, page, cspViolations } = await newContext(DESKTOP);
  try {
    await page.goto(`${spa!.origin}/`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.click('#signin');
    await page.waitForSelector('h1:text("Sign in")');
    assert.ok(page.url().startsWith(`${idp!.issuer}/interaction/`));
    await page.fill('#identifier', idp!.user.username);
    await page.fill('#password', idp!.user.password);
    await page.click('button[type="submit"]:text("Sign in")');
    await page.waitForSelector('button[value="allow"]');
    assert.match((await page.textContent('h1')) ?? '', /Single-page test app/);
    await page.click('button[value="allow"]');

    await page.waitForSelector('body[data-state="signed-in"], body[data-state="error"]');
    const outcome = JSON.parse((await page.textContent('#result')) ?? '{}') as {
      signedIn: boolean;
      error?: string;
      sub: string;
      alg: string;
      checks: Record<string, boolean>;
      accessToken: string;
      idToken: string;
    };
    assert.equal(outcome.signedIn, true, outcome.error);
    assert.deepEqual(outcome.checks, { signature: true, iss: true, aud: true, nonce: true, exp: true, at_hash: true });
    assert.equal(new URL(page.url()).hash, '', 'the tokens left the address bar');

    // The same at_hash computed here, independently of the page, and a tampered token fails it.
    const claims = decodeJwt(outcome.idToken);
    const digest = createHash(outcome.alg.endsWith('384') ? 'sha384' : outcome.alg.endsWith('512') || outcome.alg.startsWith('Ed') ? 'sha512' : 'sha256')
      .update(outcome.accessToken, 'ascii')
      .digest();
    assert.equal(claims.at_hash, digest.subarray(0, digest.length / 2).toString('base64url'));
    const tampered = await page.evaluate(
      ({ token, alg }) => (window as unknown as { spaAtHash(t: string, a: string): Promise<string> }).spaAtHash(`${token}x`, alg),
      { token: outcome.accessToken, alg: outcome.alg },
    );
    assert.notEqual(tampered, claims.at_hash);

    // The access token is a live one.
    const userinfo = await fetch(`${idp!.issuer}/me`, { headers: { authorization: `Bearer ${outcome.accessToken}` } });
    assert.equal(userinfo.status, 200);
    assert.equal(((await userinfo.json()) as { sub: string }).sub, outcome.sub);
    assert.deepEqual(cspViolations, []);
  } finally {
    await context.close();
  }
});
