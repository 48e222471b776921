// The session bridge end to end, real processes: the sample PHP monolith, the legacy-adapter, the
// idp and the gateway in front. A legacy user signs in at the gateway's /auth/login on the idp's
// own login page (just in time, with the legacy password), lands back, and the monolith's
// unchanged account.php sees them logged in; logout ends the PHP session and the idp's.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { describeOrSkip, LEGACY_DEMO_PASSWORD, legacyKnex, legacyPhpUnavailableReason, legacySessionData } from '../../scripts/support/legacy-php.ts';
import { createTransactionCookies } from '../../gateway/signin/transaction-cookie.ts';
import { followRedirects, signInAtIdp, signInWithCookie } from './flows.ts';
import { allowConsent, COOKIE_SECRET, IDP_SECRET, postJson, startStack, type Stack } from '../../scripts/support/stack.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET } from '../../scripts/support/legacy-adapter.ts';
import { repoRoot } from '../../scripts/support/processes.ts';

function setCookies(res: Response): string[] {
  return res.headers.getSetCookie();
}

const sqliteReason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('session bridge: OpenID Connect login at the gateway, PHP session in the sessions table', sqliteReason, () => {
  let stack: Stack;
  let db: Knex;
  before(async () => {
    stack = await startStack({ db: 'sqlite', sessionStore: 'db', env: { gateway: { LOG_LEVEL: 'debug' } } });
    db = legacyKnex(stack.php);
  });
  after(async () => {
    await db?.destroy();
    await stack?.stop();
  });

  test('a legacy user signs in on the idp (JIT), lands on account.php logged in; logout ends the PHP and the idp sessions', async () => {
    const browser = new FormClient(stack.gateway);
    // Not logged in on the monolith yet.
    const before = await browser.request('/account.php');
    assert.equal(before.status, 302);
    assert.equal(before.headers.get('location'), 'login.php');

    const callback = await signInAtIdp(browser, 'erin');
    const landed = await browser.request(callback);
    assert.equal(landed.status, 302, await landed.clone().text());
    assert.equal(landed.headers.get('location'), '/account.php');
    const cookies = setCookies(landed);
    const session = cookies.find((c) => c.startsWith('PHPSESSID='));
    assert.ok(session, cookies.join('\n'));
    assert.match(session, /^PHPSESSID=[0-9a-v]{32}; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.ok(
      cookies.some((c) => /^gw_signin=; Path=\/auth\/callback; .*Max-Age=0/.test(c)),
      'the sign-in cookie is cleared',
    );
    const sessionId = /^PHPSESSID=([^;]+)/.exec(session)![1]!;

    const row = await db('sessions').where({ id: sessionId }).first();
    assert.ok(row, 'a row in the sessions table');
    const erin = await db('users').where({ user_login: 'erin' }).first('user_id');
    assert.equal(Buffer.from(row.data).toString('utf8'), legacySessionData(Number(erin.user_id), 'erin'));
    assert.ok(Math.abs(Number(row.last_access) - Date.now() / 1000) < 60);

    // The unchanged PHP pages, through the gateway's legacy route.
    const account = await browser.request('/account.php');
    assert.equal(account.status, 200);
    assert.match(await account.text(), /<td id="account-login">erin<\/td>/);
    const me = await browser.request('/api/me.php');
    assert.deepEqual(await me.json(), { user_id: Number(erin.user_id), login: 'erin', email: 'erin@example.com' });

    // Logout: GET only asks; the POST from our own page does it.
    const ask = await browser.request('/auth/logout');
    assert.equal(ask.status, 200);
    assert.match(await ask.text(), /<form method="post" action="\/auth\/logout">/);
    assert.ok(await db('sessions').where({ id: sessionId }).first(), 'a GET logs nobody out');
    const out = await browser.request('/auth/logout', { form: {} });
    assert.equal(out.status, 303);
    const endSession = new URL(out.headers.get('location')!);
    assert.equal(endSession.origin + endSession.pathname, `${stack.gateway}/session/end`);
    assert.equal(endSession.searchParams.get('client_id'), 'gateway');
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${stack.gateway}/`);
    assert.ok(
      setCookies(out).some((c) => /^PHPSESSID=; Path=\/; .*Max-Age=0/.test(c)),
      'the PHP cookie is cleared',
    );
    assert.equal(await db('sessions').where({ id: sessionId }).first(), undefined, 'the PHP session row is gone');
    assert.match((await (await browser.request('/account.php')).headers.get('location')) ?? '', /login\.php$/);

    // The idp's confirmation, then back to the site's home page.
    const confirm = await browser.request(endSession.href);
    assert.equal(confirm.status, 200);
    const confirmBody = await confirm.text();
    const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(confirmBody)?.[1];
    assert.ok(action, 'the idp asks to confirm the sign-out');
    const done = await browser.request(action, { form: { xsrf: hiddenValue(confirmBody, 'xsrf'), logout: 'yes' } });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), `${stack.gateway}/`);

    // The idp session is over too: a new sign-in asks for the password again.
    const again = await browser.request('/auth/login');
    const page = await followRedirects(browser, again, `${stack.gateway}/auth/login`);
    assert.match(page.url, /\/interaction\/[^/]+$/);
    assert.match(await page.res.text(), /name="identifier"/);

    // Replaying the old PHP cookie logs nobody in.
    const replay = await fetch(`${stack.gateway}/api/me.php`, { headers: { cookie: `PHPSESSID=${sessionId}` } });
    assert.equal(replay.status, 401);
    assert.ok(!stack.outputs().includes(sessionId), 'no session id in any log');
    assert.ok(!stack.outputs().includes(LEGACY_DEMO_PASSWORD), 'no password in any log');
  });

  test('every login gets a fresh PHP session id, and the one the browser had is dropped (no fixation)', async () => {
    const browser = new FormClient(stack.gateway);
    // A PHP session the browser already holds (here: the monolith's own login form).
    const form = await browser.request('/login.php');
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(await form.text())![1]!;
    const legacyLogin = await browser.request('/login.php', { form: { csrf_token: csrf, login: 'bob', password: LEGACY_DEMO_PASSWORD } });
    assert.equal(legacyLogin.status, 302);
    const old = /^PHPSESSID=([^;]+)/.exec(setCookies(legacyLogin).find((c) => c.startsWith('PHPSESSID='))!)![1]!;
    assert.ok(await db('sessions').where({ id: old }).first());

    // The idp takes bob's live PHP session as the login (no password page; consent at most).
    let page = await followRedirects(browser, await browser.request('/auth/login?return_to=/account.php'), `${stack.gateway}/auth/login`, '/auth/callback');
    if (new URL(page.url).pathname !== '/auth/callback') {
      const body = await page.res.text();
      assert.doesNotMatch(body, /name="identifier"/);
      const uid = /\/interaction\/([^/?#]+)$/.exec(new URL(page.url).pathname)![1]!;
      const allowed = await allowConsent(browser, uid, body);
      page = await followRedirects(browser, allowed, `${stack.gateway}/interaction/${uid}/confirm`, '/auth/callback');
    }
    const landed = await browser.request(page.url);
    const fresh = /^PHPSESSID=([^;]+)/.exec(setCookies(landed).find((c) => c.startsWith('PHPSESSID='))!)![1]!;
    assert.notEqual(fresh, old);
    assert.equal(await db('sessions').where({ id: old }).first(), undefined, 'the previous session is gone');
    const account = await browser.request('/account.php');
    assert.match(await account.text(), /<td id="account-login">bob<\/td>/);
  });

  test('a tampered, missing or foreign sign-in cookie, and a wrong state, are refused; no PHP session is made', async () => {
    const browser = new FormClient(stack.gateway);
    const { callback, cookie } = await signInWithCookie(browser, 'carol');
    assert.match(cookie, /^gw_signin=[^;]+; Path=\/auth\/callback; HttpOnly; SameSite=Lax; Max-Age=600$/);
    const value = /^gw_signin=([^;]+)/.exec(cookie)![1]!;
    const sessionsBefore = Number((await db('sessions').count({ n: '*' }).first())?.n);

    const attempt = (url: string, cookieHeader?: string) => fetch(url, { redirect: 'manual', headers: cookieHeader ? { cookie: cookieHeader } : {} });
    // The real code and state, but no cookie (another browser), or a tampered one.
    const payload = value.split('.')[0]!;
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), returnTo: '/index.php' })).toString('base64url');
    for (const header of [undefined, `gw_signin=${forged}.${value.split('.')[1]}`, `gw_signin=${value.slice(0, -2)}xx`, 'gw_signin=garbage']) {
      const res = await attempt(callback, header);
      assert.equal(res.status, 400, String(header));
      assert.match(await res.text(), /Sign-in expired/);
      assert.ok(!setCookies(res).some((c) => c.startsWith('PHPSESSID=')));
    }
    // The right cookie with another state: refused by openid-client before any code exchange.
    const wrongState = new URL(callback);
    wrongState.searchParams.set('state', 'not-the-state');
    const refused = await attempt(wrongState.href, `gw_signin=${value}`);
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /Sign-in failed/);
    assert.equal(Number((await db('sessions').count({ n: '*' }).first())?.n), sessionsBefore, 'no PHP session was written');

    // The untouched cookie still completes the sign-in it belongs to.
    const ok = await attempt(callback, `gw_signin=${value}`);
    assert.equal(ok.status, 302);
    assert.equal(ok.headers.get('location'), '/account.php');
    // And a code is good once: the same callback again fails.
    const replay = await attempt(callback, `gw_signin=${value}`);
    assert.equal(replay.status, 400);
  });

  test('return_to must be a path on this site: other origins are refused (no open redirect)', async () => {
    const refused = [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example/x',
      'javascript:alert(1)',
      'account.php',
      '/%0d%0aSet-Cookie:x=y'.replace('%0d%0a', '\r\n'),
    ];
    // What only normalisation turns into another origin: dot segments, encoded dots and slashes.
    refused.push('/.//evil.example/x', '/a/..//evil.example/x', '/%2e//evil.example/x', '/%2f%2fevil.example/x', '/%5cevil.example/x');
    for (const target of refused) {
      const res = await fetch(`${stack.gateway}/auth/login?return_to=${encodeURIComponent(target)}`, { redirect: 'manual' });
      assert.equal(res.status, 400, target);
      assert.equal(res.headers.get('location'), null, target);
    }
    const ok = await fetch(`${stack.gateway}/auth/login?return_to=${encodeURIComponent('/account.php?tab=1')}`, { redirect: 'manual' });
    assert.equal(ok.status, 302);
    const auth = new URL(ok.headers.get('location')!);
    // The browser goes to the public issuer (not IDP_UPSTREAM_URL), with PKCE S256, state and nonce.
    assert.equal(`${auth.origin}${auth.pathname}`, `${stack.gateway}/auth`);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce') && auth.searchParams.get('code_challenge'));
    assert.equal(auth.searchParams.get('redirect_uri'), `${stack.gateway}/auth/callback`);
    assert.doesNotMatch(ok.headers.getSetCookie().join('\n'), /Secure/, 'plain http: no Secure flag');
    // Behind a TLS proxy the gateway trusts (TRUST_PROXY, loopback by default): Secure cookies.
    const behindTls = await fetch(`${stack.gateway}/auth/login`, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
    assert.match(behindTls.headers.getSetCookie().find((c) => c.startsWith('gw_signin=')) ?? '', /; Secure/);
  });

  test('the callback re-checks where it sends the browser: a sealed cookie naming another origin lands on /', async () => {
    const browser = new FormClient(stack.gateway);
    const { callback, cookie } = await signInWithCookie(browser, 'dave');
    // A cookie the gateway's key sealed under laxer rules (one from before an upgrade, still live).
    const cookies = createTransactionCookies(COOKIE_SECRET);
    const transaction = cookies.open(/^gw_signin=([^;]+)/.exec(cookie)![1]);
    assert.ok(transaction, 'the real sign-in cookie opens with the stack key');
    assert.equal(transaction.returnTo, '/account.php');
    const stale = cookies.seal({ ...transaction, returnTo: '//evil.example/x' });
    const res = await fetch(callback, { redirect: 'manual', headers: { cookie: `gw_signin=${stale}` } });
    assert.equal(res.status, 302, await res.clone().text());
    assert.equal(res.headers.get('location'), '/');
    assert.ok(
      setCookies(res).some((c) => c.startsWith('PHPSESSID=')),
      'the sign-in itself still completes',
    );
  });

  test('the other redirects choose no target from the request: logout, the idp end-session, the admin login', async () => {
    // Logout: the post-logout target is the configured public origin, whatever Host or forwarded host says.
    const browser = new FormClient(stack.gateway);
    await browser.request('/auth/logout');
    for (const headers of [{ host: 'evil.example' }, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }] as Array<Record<string, string>>) {
      const out = await fetch(`${stack.gateway}/auth/logout?post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...headers, 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(out.status, 303);
      const endSession = new URL(out.headers.get('location')!);
      assert.equal(endSession.origin, stack.gateway);
      assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${stack.gateway}/`);
    }
    // The idp's end-session takes only a registered post-logout URI, never a path that normalises elsewhere.
    for (const target of ['https://evil.example/', `${stack.gateway}/.//evil.example/x`, `${stack.gateway}//evil.example/x`]) {
      const end = await fetch(`${stack.gateway}/session/end?client_id=gateway&post_logout_redirect_uri=${encodeURIComponent(target)}`, { redirect: 'manual' });
      assert.equal(end.status, 400, target);
      assert.equal(end.headers.get('location'), null, target);
      assert.doesNotMatch(await end.text(), /evil\.example/, target);
    }
    // The admin page's redirects go to /admin only, whatever the request names.
    const login = await fetch(`${stack.gateway}/admin/?return_to=${encodeURIComponent('//evil.example/x')}&next=${encodeURIComponent('//evil.example/x')}`, {
      redirect: 'manual',
    });
    assert.equal(login.status, 401);
    assert.equal(login.headers.get('location'), null);
  });

  test('a cross-site logout POST is refused; the internal endpoints want their own secrets', async () => {
    const res = await fetch(`${stack.gateway}/auth/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(res.status, 403);

    const sessions = `${stack.adapter.url}/internal/v1/sessions`;
    const post = (secret: string | undefined, body: unknown) => postJson(sessions, secret, body);
    assert.equal((await post(undefined, { legacyId: '1' })).status, 401);
    assert.equal((await post(ADAPTER_SECRET, { legacyId: '1' })).status, 401, "the idp's adapter secret does not open the session bridge");
    assert.equal((await post(BRIDGE_SECRET, { legacyId: 'x' })).status, 400);
    assert.equal((await post(BRIDGE_SECRET, { legacyId: '10' })).status, 404, 'judy is inactive: no session');
    assert.equal((await post(BRIDGE_SECRET, { legacyId: '9999' })).status, 404);
    const made = await post(BRIDGE_SECRET, { login: 'ALICE' });
    assert.equal(made.status, 201);
    const { sessionId } = (await made.json()) as { sessionId: string };
    assert.equal(Buffer.from((await db('sessions').where({ id: sessionId }).first()).data).toString(), legacySessionData(1, 'alice'));
    assert.equal((await fetch(`${sessions}/${sessionId}`, { method: 'DELETE' })).status, 401);
    assert.equal((await fetch(`${sessions}/${sessionId}`, { method: 'DELETE', headers: { authorization: `Bearer ${BRIDGE_SECRET}` } })).status, 204);
    assert.equal(await db('sessions').where({ id: sessionId }).first(), undefined);

    const identity = `${stack.idp.url}/internal/v1/users/anyone/legacy-identity`;
    assert.equal((await fetch(identity)).status, 401);
    assert.equal((await fetch(identity, { headers: { authorization: `Bearer ${IDP_SECRET}` } })).status, 404);
  });
});

const redisReason = await legacyPhpUnavailableReason({ db: 'mysql', sessionStore: 'redis' });

describeOrSkip('session bridge with phpredis sessions (LEGACY_SESSION_STORE=redis)', redisReason, () => {
  let stack: Stack;
  let redis: Redis;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-login-cookie-'));
  before(async () => {
    // The monolith's cookie as its mapping describes it; the gateway's LEGACY_SESSION_NAME is a
    // stale fallback it must not use while the adapter announces the cookie.
    const sample = readFileSync(join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml'), 'utf8');
    assert.match(sample, /samesite: Lax\n +lifetime: 0\n/);
    const mapping = join(dir, 'mapping.yaml');
    writeFileSync(mapping, sample.replace(/samesite: Lax\n( +)lifetime: 0\n/, 'samesite: Strict\n$1lifetime: 3600\n'));
    stack = await startStack({
      db: 'mysql',
      sessionStore: 'redis',
      sessionName: 'LEGACYSESS',
      env: { adapter: { LEGACY_MAPPING_FILE: mapping }, gateway: { LOG_LEVEL: 'debug', LEGACY_SESSION_NAME: 'STALE_FALLBACK' } },
    });
    redis = new Redis(stack.php.redisUrl, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    redis?.disconnect();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the bridge writes PHPREDIS_SESSION:<id> with the lifetime as TTL and sets the cookie the adapter announces; account.php sees the user; logout deletes it', async () => {
    const browser = new FormClient(stack.gateway);
    const landed = await browser.request(await signInAtIdp(browser, 'grace'));
    assert.equal(landed.status, 302);
    const cookie = setCookies(landed).find((c) => c.startsWith('LEGACYSESS='));
    assert.ok(cookie, 'the cookie named by the mapping (LEGACY_SESSION_NAME on the adapter)');
    assert.match(cookie, /^LEGACYSESS=[0-9a-v]{32}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/, "with the attributes of the mapping's session.cookie");
    assert.ok(!setCookies(landed).some((c) => c.startsWith('STALE_FALLBACK=')));
    const id = /^LEGACYSESS=([^;]+)/.exec(cookie)![1]!;
    assert.equal(await redis.get(`PHPREDIS_SESSION:${id}`), legacySessionData(7, 'grace'));
    const ttl = await redis.ttl(`PHPREDIS_SESSION:${id}`);
    assert.ok(ttl > 1300 && ttl <= 1440, `ttl ${ttl}`);
    const account = await browser.request('/account.php');
    assert.equal(account.status, 200);
    assert.match(await account.text(), /<td id="account-login">grace<\/td>/);

    const out = await browser.request('/auth/logout', { form: {} });
    assert.equal(out.status, 303);
    assert.ok(
      setCookies(out).some((c) => /^LEGACYSESS=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0; Expires=/.test(c)),
      'cleared with the same attributes',
    );
    assert.equal(await redis.exists(`PHPREDIS_SESSION:${id}`), 0);
    assert.equal((await browser.request('/account.php')).status, 302);
  });
});
