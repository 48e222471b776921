// The monolith's own login and logout pages flipped to the gateway's actions, with the shipped
// route file and real processes (the sample PHP monolith, the legacy-adapter, the idp, the
// gateway): /login.php flipped to signin ends with the user logged in on the unchanged PHP pages,
// logout.php flipped to signout ends the PHP session and the idp's, and a canary between the
// legacy login form and signin splits browsers by their bucket.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Knex } from 'knex';
import { BUCKET_COOKIE, bucketOf, createBucketCookies, goesToNewSide } from '../../gateway/canary.ts';
import { FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { describeOrSkip, legacyKnex, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { allowConsent, COOKIE_SECRET, startStack, submitPassword, type Stack } from '../../scripts/support/stack.ts';
import { followRedirects } from './flows.ts';

const ADMIN_TOKEN = 'test-admin-token-for-route-actions-0123456789';

/** From the idp's password page (where `page` is), signs in as `login` and follows the browser back to the site. */
async function signInOnIdpPage(browser: FormClient, page: { res: Response; url: string }, login: string): Promise<{ res: Response; url: string }> {
  const uid = /\/interaction\/([^/?#]+)$/.exec(new URL(page.url).pathname)?.[1];
  assert.ok(uid, `the idp's login page (${page.url})`);
  const body = await page.res.text();
  assert.match(body, /name="identifier"/);
  const submitted = await submitPassword(browser, uid, body, login);
  const landed = await followRedirects(browser, submitted, new URL(`/interaction/${uid}/login`, browser.base).href);
  // The gateway's first sign-in for this user may ask for consent.
  const consent = /^\/interaction\/([^/?#]+)$/.exec(new URL(landed.url).pathname)?.[1];
  if (!consent) return landed;
  const allowed = await allowConsent(browser, consent, await landed.res.text());
  return followRedirects(browser, allowed, new URL(`/interaction/${consent}/confirm`, browser.base).href);
}

const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip("the monolith's login and logout pages flipped to the gateway's signin and signout (shipped route file)", reason, () => {
  let stack: Stack;
  let db: Knex;
  const flip = async (route: string, state: { mode: string; percent?: number }) => {
    const res = await fetch(`${stack.gateway}/admin/api/routes/${route}/flag`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...state, reason: 'route actions test' }),
    });
    assert.equal(res.status, 200, await res.text());
  };
  before(async () => {
    stack = await startStack({ db: 'sqlite', sessionStore: 'db', tmpPrefix: 'route-actions-', env: { gateway: { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN } } });
    db = legacyKnex(stack.php);
  });
  after(async () => {
    await db?.destroy();
    await stack?.stop();
  });

  test('login.php flipped to signin: the idp signs the user in and the unchanged PHP pages see them; logout.php flipped to signout ends both sessions', async () => {
    await flip('login', { mode: 'idp' });
    await flip('logout', { mode: 'idp' });
    const browser = new FormClient(stack.gateway);
    // The monolith's own link to its login page, as a browser follows it.
    const start = await browser.request('/login.php');
    assert.equal(start.status, 302);
    assert.equal(start.headers.get('location'), '/auth/login?return_to=%2Faccount.php');
    const passwordPage = await followRedirects(browser, start, `${stack.gateway}/login.php`);
    const back = await signInOnIdpPage(browser, passwordPage, 'frank');
    assert.equal(back.res.status, 200, `landed on a page (${back.url})`);
    assert.equal(back.url, `${stack.gateway}/account.php`);
    assert.match(await back.res.text(), /<td id="account-login">frank<\/td>/);
    const sessionId = browser.setCookies
      .map((c) => /^PHPSESSID=([^;]+)/.exec(c)?.[1])
      .filter(Boolean)
      .at(-1)!;
    assert.ok(await db('sessions').where({ id: sessionId }).first(), 'the PHP session is in the sessions table');

    // The PHP menu's "Log out" button: a same-site POST to logout.php.
    const out = await browser.request('/logout.php', { form: {} });
    assert.equal(out.status, 303);
    const endSession = new URL(out.headers.get('location')!);
    assert.equal(endSession.origin + endSession.pathname, `${stack.gateway}/session/end`);
    assert.ok(
      out.headers.getSetCookie().some((c) => /^PHPSESSID=; Path=\/; .*Max-Age=0/.test(c)),
      'the PHP cookie is cleared',
    );
    assert.equal(await db('sessions').where({ id: sessionId }).first(), undefined, 'the PHP session is gone');
    assert.equal((await browser.request('/account.php')).headers.get('location'), 'login.php');
    // The idp's own confirmation ends its session: signing in again asks for the password.
    const confirm = await browser.request(endSession.href);
    const confirmBody = await confirm.text();
    const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(confirmBody)?.[1];
    assert.ok(action, 'the idp asks to confirm the sign-out');
    const done = await browser.request(action, { form: { xsrf: hiddenValue(confirmBody, 'xsrf'), logout: 'yes' } });
    assert.equal(done.status, 303);
    const again = await followRedirects(browser, await browser.request('/login.php'), `${stack.gateway}/login.php`);
    assert.match(new URL(again.url).pathname, /^\/interaction\/[^/]+$/);
    assert.match(await again.res.text(), /name="identifier"/, 'no idp session is left');
  });

  test('a canary between the legacy login form and signin splits browsers by their bucket, each staying on its side', async () => {
    await flip('login', { mode: 'canary', percent: 50 });
    const buckets = createBucketCookies(COOKIE_SECRET);
    const ids = { new: '', legacy: '' };
    while (!ids.new || !ids.legacy) {
      const id = randomBytes(16).toString('base64url');
      ids[goesToNewSide(bucketOf(id), 50) ? 'new' : 'legacy'] ||= id;
    }
    for (let round = 0; round < 2; round++) {
      const toNew = await fetch(`${stack.gateway}/login.php`, { redirect: 'manual', headers: { cookie: `${BUCKET_COOKIE}=${buckets.value(ids.new)}` } });
      assert.equal(toNew.status, 302);
      assert.equal(toNew.headers.get('location'), '/auth/login?return_to=%2Faccount.php');
      const toLegacy = await fetch(`${stack.gateway}/login.php`, { redirect: 'manual', headers: { cookie: `${BUCKET_COOKIE}=${buckets.value(ids.legacy)}` } });
      assert.equal(toLegacy.status, 200);
      assert.match(await toLegacy.text(), /<form method="post" action="login.php" id="login-form">/, "the monolith's own form");
    }
  });
});
