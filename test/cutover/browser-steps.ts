// Chromium steps of the cutover matrix (Debian's chromium through playwright-core), and the
// scripted authorization-code flow that gets a user's access token for an API.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../idp-browser/support.ts';
import { FormClient } from '../../scripts/support/form-client.ts';
import { authorize, passwordLogin, redeemCode } from '../session-bridge/flows.ts';
import { API_CLIENT } from '../../scripts/support/stack.ts';
import type { DemoUser } from './monoliths.ts';

/** Why Chromium cannot run here, or null. */
export function chromiumUnavailableReason(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** A fresh browser profile (no cookies) with one page on `gateway`, and every page it showed. */
export async function freshPage(browser: Browser, gateway: string): Promise<{ context: BrowserContext; page: Page; shown: string[] }> {
  const context = await browser.newContext({ baseURL: gateway });
  const page = await context.newPage();
  const shown: string[] = [];
  // Committed navigations only: a URL that answered with a redirect was never shown.
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) shown.push(frame.url());
  });
  return { context, page, shown };
}

/** Whether any of the pages shown was one of the idp's interaction pages (password or consent). */
export const sawIdpPage = (shown: string[]) => shown.some((url) => new URL(url).pathname.startsWith('/interaction/'));

/** On the idp's password page (where `page` is or is going): signs in as `user`, then waits to have left the idp. */
export async function signInOnIdpPage(page: Page, user: DemoUser): Promise<void> {
  await page.waitForSelector('input[name=identifier]');
  await page.fill('input[name=identifier]', user.login);
  await page.fill('input[name=password]', user.password);
  await Promise.all([
    page.waitForURL((url) => !url.pathname.startsWith('/interaction/') && !url.pathname.startsWith('/auth/')),
    page.click('button[type=submit]:has-text("Sign in")'),
  ]);
}

/** On the idp's "sign out?" page (where `page` is going): confirms, and waits for the way back to the site's home page. */
export async function confirmIdpLogout(page: Page, gateway: string): Promise<void> {
  await page.waitForSelector('button[name=logout][value=yes]');
  await Promise.all([page.waitForURL(`${gateway}/`), page.click('button[name=logout][value=yes]')]);
}

/** The value of cookie `name` the browser holds for `gateway`. */
export async function cookieOf(context: BrowserContext, gateway: string, name: string): Promise<string | undefined> {
  return (await context.cookies(gateway)).find((c) => c.name === name)?.value;
}

/** An access token of `user` for the API `scope` belongs to: API_CLIENT's authorization code flow, scripted. */
export async function userAccessToken(gateway: string, user: DemoUser, scope: string): Promise<string> {
  const client = { id: API_CLIENT.id, scope: `openid ${scope}` };
  const browser = new FormClient(gateway);
  const outcome = await passwordLogin(browser, gateway, await authorize(browser, gateway, {}, client), user.login, user.password);
  const tokens = await redeemCode(gateway, outcome, client);
  assert.equal(tokens.scope?.split(' ').includes(scope), true, `granted ${scope} (${tokens.scope ?? ''})`);
  return tokens.access_token;
}
