// Password reset by e-mail end to end, in headless Chromium against the real idp, a real SMTP
// server on loopback, the sample PHP monolith and the legacy-adapter: a migrated user and a legacy
// user who never signed in each reset from the login page with the link mailed to them, then sign
// in with the new password, which the PHP site accepts too (dual-write); the old password fails,
// the link works once, an unknown address gets the same page and no mail, and an SMTP outage only
// delays the mail.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RunningService } from '../../lib/service.ts';
import { launchChromium } from '../idp-browser/support.ts';
import { closeSharedResources, withIdp, type Storage, type TestIdp } from '../support/idp.ts';
import { ADAPTER_SECRET, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { LEGACY_DEMO_PASSWORD, LegacyBrowser, legacyPhpUnavailableReason, startLegacyPhp } from '../../scripts/support/legacy-php.ts';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../support/smtp-server.ts';
import { sample } from '../support/prometheus-text.ts';
import { pbkdf2Scheme } from '../../lib/passwords/index.ts';

after(closeSharedResources);

const NEW_PASSWORD = 'a new password from the reset link';

interface Stack {
  idp: TestIdp;
  smtp: TestSmtpServer;
  browser: Browser;
  php: { url: string };
  callback: string;
}

/** A fresh authorization request of the native test client: the login page, in `page`. */
async function openLoginPage(stack: Stack, page: Page): Promise<void> {
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  const url = new URL(`${stack.idp.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: 'native-app',
    response_type: 'code',
    scope: 'openid',
    redirect_uri: stack.callback,
    state: 's',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  await page.goto(url.href);
}

/** Signs in on the login page (consenting when asked): true when the browser reached the app with a code. */
async function signIn(stack: Stack, page: Page, login: string, password: string): Promise<boolean> {
  await openLoginPage(stack, page);
  await page.fill('#identifier', login);
  await page.fill('#password', password);
  await page.click('button[type="submit"]:text("Sign in")');
  await page.waitForLoadState();
  if (await page.locator('button[value="allow"]').count()) await page.click('button[value="allow"]');
  await page.waitForLoadState();
  return new URL(page.url()).href.startsWith(stack.callback) && new URL(page.url()).searchParams.has('code');
}

/** "Forgot password?" from the login page, for `identifier`; returns the page's text. */
async function askForReset(stack: Stack, page: Page, identifier: string): Promise<string> {
  await openLoginPage(stack, page);
  await page.click('a:text("Forgot password?")');
  await page.fill('#identifier', identifier);
  await page.click('button[type="submit"]');
  await page.waitForSelector('h1:text("Check your email")');
  return (await page.textContent('main')) ?? '';
}

function linkIn(mail: ReceivedMail): string {
  const link = /https?:\/\/\S+\/interaction\/password-reset\/new\?token=[\w-]+/.exec(mail.text)?.[0];
  assert.ok(link, `a reset link in the mail: ${mail.text}`);
  assert.ok(mail.html.includes(link.replace(/&/g, '&amp;')), 'the HTML body carries the same link');
  return link;
}

/** Opens the mailed link and sets the new password; returns the page's heading. */
async function useLink(page: Page, link: string, password: string): Promise<string> {
  const opened = await page.goto(link);
  if (opened?.status() !== 200) return (await page.textContent('h1')) ?? '';
  await page.fill('#new-password', password);
  await page.fill('#confirm-password', password);
  await page.click('button[type="submit"]');
  await page.waitForLoadState();
  return (await page.textContent('h1')) ?? '';
}

const metricsOf = async (idp: TestIdp) => (await fetch(`${idp.opsUrl}/metrics`)).text();

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The PHP monolith takes `password` for `login` (once the dual-write relayed it). */
const phpAccepts = async (stack: Stack, login: string, password: string) => (await new LegacyBrowser(stack.php.url).login(login, password)).status === 302;

/** The whole reset of one user, from the login page to signing in with the new password everywhere. */
async function resetAndSignIn(stack: Stack, user: { login: string; email: string; askWith: string }, oldPassword: string): Promise<void> {
  const context = await stack.browser.newContext();
  try {
    const page = await context.newPage();
    const before = stack.smtp.received.length;
    await askForReset(stack, page, user.askWith);
    const mail = await stack.smtp.waitFor(user.email, /Reset your password/, before);
    const link = linkIn(mail);
    assert.equal(await useLink(page, link, NEW_PASSWORD), 'Your password was changed');
    await stack.smtp.waitFor(user.email, /Your password was changed/, before);

    // The link works once.
    assert.equal(await useLink(page, link, 'yet another password 123'), 'This link does not work');

    // The idp: the new password signs in, the old one does not.
    assert.ok(await signIn(stack, await context.newPage(), user.login, NEW_PASSWORD), `${user.login} signs in with the new password`);
    const fresh = await stack.browser.newContext();
    try {
      assert.ok(!(await signIn(stack, await fresh.newPage(), user.login, oldPassword)), 'the old password no longer signs in at the idp');
    } finally {
      await fresh.close();
    }
    // The PHP site: the new password once the dual-write relayed it, never the old one.
    await eventually(`the PHP site accepts ${user.login}'s new password`, () => phpAccepts(stack, user.login, NEW_PASSWORD));
    assert.ok(!(await phpAccepts(stack, user.login, oldPassword)), 'the old password no longer signs in on the PHP site');
  } finally {
    await context.close();
  }
}

async function resetScenario(t: TestContext, storage: Storage): Promise<void> {
  const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });
  if (reason) {
    console.warn(`SKIPPED: password reset end to end: ${reason}`);
    return t.skip(reason);
  }
  const browser = await launchChromium(t);
  if (!browser) return;
  const php = await startLegacyPhp({ db: 'sqlite' });
  let adapter: RunningService | undefined;
  const smtp = await startSmtpServer();
  const app = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const callback = `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback`;
  try {
    adapter = await startAdapter(php.db.url);
    const env = {
      LEGACY_ADAPTER_URL: adapter.url,
      LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
      LEGACY_ADAPTER_TIMEOUT_MS: '5000',
      IDP_DUAL_WRITE_BCRYPT_COST: '4',
      IDP_DUAL_WRITE_POLL_MS: '50',
      IDP_DUAL_WRITE_RETRY_BASE_MS: '20',
      IDP_DUAL_WRITE_RETRY_MAX_MS: '100',
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Sign-in <sign-in@example.test>',
      IDP_MAIL_POLL_MS: '50',
      IDP_MAIL_RETRY_BASE_MS: '20',
      IDP_MAIL_RETRY_MAX_MS: '200',
      IDP_MAIL_TIMEOUT_MS: '3000',
    };
    const clients = `
clients:
  - client_id: native-app
    application_type: native
    token_endpoint_auth_method: none
    redirect_uris: ["${callback}"]
    grant_types: [authorization_code]
    scope: openid
`;
    await withIdp(
      t,
      storage,
      async (idp) => {
        const stack: Stack = { idp, smtp, browser, php, callback };

        // erin is migrated: her first idp login imported her, and this browser stays signed in.
        const erinContext = await browser.newContext();
        assert.ok(await signIn(stack, await erinContext.newPage(), 'erin', LEGACY_DEMO_PASSWORD), 'erin signs in with her legacy password');
        await resetAndSignIn(stack, { login: 'erin', email: 'erin@example.com', askWith: 'erin' }, LEGACY_DEMO_PASSWORD);
        // Every session of the account ended: the browser signed in before the reset must sign in again.
        const again = await erinContext.newPage();
        await openLoginPage(stack, again);
        assert.ok(await again.locator('#password').count(), 'the session from before the reset was ended');
        await erinContext.close();
        const revoked = await metricsOf(idp);
        assert.ok(sample(revoked, 'idp_password_reset_revocations_total', { kind: 'session' }) >= 1, 'her session ended');
        assert.ok(sample(revoked, 'idp_password_reset_revocations_total', { kind: 'grant' }) >= 1, 'her grant revoked');

        // nina never signed in since the cutover: the reset, asked by e-mail address, imports her first.
        assert.equal(await idp.db.knex('users').where({ username: 'nina' }).first('id'), undefined, 'nina is unknown to the idp');
        await resetAndSignIn(stack, { login: 'nina', email: 'nina@example.com', askWith: 'NINA@example.com' }, LEGACY_DEMO_PASSWORD);
        const nina = (await idp.db.knex('users').where({ username: 'nina' }).first('legacy_id')) as { legacy_id: string | null };
        assert.ok(nina.legacy_id, 'imported with her legacy id');
        const schemes = (await idp.db.knex('users').whereIn('username', ['erin', 'nina']).select('password_scheme')) as { password_scheme: string }[];
        assert.deepEqual(
          schemes.map((r) => r.password_scheme),
          [pbkdf2Scheme.name, pbkdf2Scheme.name],
          'the new password is stored as PBKDF2',
        );

        let metrics = await metricsOf(idp);
        assert.equal(sample(metrics, 'idp_password_reset_requests_total', { result: 'issued' }), 2);
        assert.equal(sample(metrics, 'idp_password_reset_legacy_imports_total', {}), 1);
        assert.equal(sample(metrics, 'idp_password_reset_completions_total', { result: 'success' }), 2);
        assert.equal(sample(metrics, 'idp_password_reset_completions_total', { result: 'invalid' }), 2, 'each link tried a second time');
        assert.equal(sample(metrics, 'idp_mail_sent_total', { template: 'password-reset' }), 2);

        // An unknown address, and a legacy account the monolith disabled: the same page, and no mail.
        const context = await browser.newContext();
        const page = await context.newPage();
        const sentBefore = smtp.received.length;
        const known = await askForReset(stack, page, 'erin@example.com');
        const unknown = await askForReset(stack, page, 'nobody@example.com');
        assert.equal(unknown, known, 'the same answer whether the account exists or not');
        assert.equal(await askForReset(stack, page, 'judy'), known, 'the same answer for a disabled account');
        await eventually('the requests handled', async () => {
          const m = await metricsOf(idp);
          return (
            sample(m, 'idp_password_reset_requests_total', { result: 'no_account' }) === 2 &&
            sample(m, 'idp_password_reset_requests_total', { result: 'issued' }) === 3
          );
        });
        await smtp.waitFor('erin@example.com', /Reset your password/, sentBefore);
        await eventually('every queued mail sent', async () => sample(await metricsOf(idp), 'idp_mail_backlog', {}) === 0);
        assert.ok(!smtp.received.some((m) => m.to.includes('nobody')), 'no mail to an unknown address');
        assert.ok(!smtp.received.some((m) => m.to.includes('judy')), 'no mail to a disabled account');
        assert.equal(await idp.db.knex('users').where({ username: 'judy' }).first('id'), undefined, 'a disabled account is not imported');

        // The SMTP server goes away: the request is answered at once, the mail waits and is retried.
        await smtp.stop();
        const before = smtp.received.length;
        await askForReset(stack, page, 'frank');
        await eventually('failed sends are counted', async () => {
          const m = await metricsOf(idp);
          return sample(m, 'idp_mail_backlog', {}) === 1 && sample(m, 'idp_mail_send_failures_total', {}) >= 2;
        });
        assert.equal(smtp.received.length, before, 'nothing arrived while the server was down');
        await smtp.start();
        const late = await smtp.waitFor('frank@example.com', /Reset your password/, before);
        assert.equal(await useLink(page, linkIn(late), NEW_PASSWORD), 'Your password was changed', 'the late link works');
        await eventually('the backlog drained', async () => sample(await metricsOf(idp), 'idp_mail_backlog', {}) === 0);
        const row = (await idp.db.knex('mail_outbox').orderBy('id', 'desc').first('status', 'text_body', 'html_body')) as {
          status: string;
          text_body: unknown;
          html_body: unknown;
        };
        assert.deepEqual(row, { status: 'sent', text_body: null, html_body: null }, 'sent mail keeps no link');
        const tokens = (await idp.db.knex('password_resets').select('token_hash')) as { token_hash: string }[];
        assert.ok(tokens.every((r) => !late.text.includes(r.token_hash)) && tokens.length >= 3, 'only keyed hashes of the tokens are stored');
        metrics = await metricsOf(idp);
        assert.ok(sample(metrics, 'idp_mail_sent_total', { template: 'password-reset' }) >= 4);
        // Every link was used but the one erin asked for beside the unknown address: open, none expired yet.
        assert.equal(sample(metrics, 'idp_password_reset_links', { state: 'open' }), 1);
        assert.equal(sample(metrics, 'idp_password_reset_links', { state: 'expired_unused' }), 0);
        await context.close();
      },
      { env, clients, realPages: true },
    );
  } finally {
    await browser.close();
    await smtp.stop();
    app.close();
    await adapter?.stop();
    await php.stop();
  }
}

// The embedded storage, and production's (MariaDB, Redis: the reset throttle and the sessions the reset ends live there).
for (const storage of [
  { db: 'sqlite', redis: false },
  { db: 'mysql', redis: true },
] satisfies Storage[]) {
  test(`${storage.db}${storage.redis ? ' + Redis' : ''}: password reset by e-mail for migrated and never-migrated users, unknown addresses, an SMTP outage`, (t) =>
    resetScenario(t, storage));
}
