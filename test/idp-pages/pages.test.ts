// The idp's own pages against a real oidc-provider: what they render, what they refuse, and
// where they send the browser.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMemoryThrottle, DEFAULT_THROTTLE_POLICY } from '../../idp/throttle/index.ts';
import { authorizeUrl, FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { startPageHarness, WEB_CLIENT, type PageHarness } from '../support/idp.ts';

const HOSTILE_NAME = `<script>alert("pwned")</script><img src=x onerror=alert(1)>&'`;
const HOSTILE_CLIENT = { ...WEB_CLIENT, client_id: 'hostile', client_name: HOSTILE_NAME, redirect_uris: ['https://evil.example.test/cb'] };
// The organisation's own site (the gateway's sign-in): declared first_party in the clients file.
const OWN_SITE = {
  ...WEB_CLIENT,
  client_id: 'own-site',
  client_name: 'Members site',
  redirect_uris: ['https://members.example.test/auth/callback'],
  first_party: true,
};

/** Starts an authorization request and returns the login page it leads to. */
async function openLogin(h: PageHarness, client = WEB_CLIENT, scope = 'openid profile email') {
  const browser = new FormClient(h.issuer);
  const auth = authorizeUrl(client.client_id, client.redirect_uris[0]!, scope);
  const page = await browser.follow(auth.url);
  const uid = /\/interaction\/([^/?#]+)$/.exec(page.url)?.[1];
  assert.ok(uid, `landed on an interaction page (${page.url})`);
  return { browser, auth, page, uid, csrf: hiddenValue(page.body, 'csrf') };
}

/** Signs alice in from an open login page; returns the consent page (a new interaction). */
async function signIn(opened: Awaited<ReturnType<typeof openLogin>>) {
  const page = await opened.browser.follow(`/interaction/${opened.uid}/login`, {
    form: { csrf: opened.csrf, identifier: 'alice', password: 'correct horse battery staple' },
  });
  const uid = /\/interaction\/([^/?#]+)$/.exec(page.url)?.[1];
  assert.ok(uid, `landed on the consent page (${page.url})`);
  return { page, uid, csrf: hiddenValue(page.body, 'csrf') };
}

function assertStrictPage(res: Response, body: string) {
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /base-uri 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|script-src/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.doesNotMatch(body, /<script/i, 'no script element');
  assert.doesNotMatch(body, /<style/i, 'no inline style element');
  assert.doesNotMatch(body, /\sstyle=/i, 'no style attribute');
  assert.doesNotMatch(body, /\son[a-z]+=/i, 'no event handler attribute');
  assert.match(body, /<html lang="en">/);
  assert.match(body, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
}

let h: PageHarness;
before(async () => {
  h = await startPageHarness({
    throttle: createMemoryThrottle(DEFAULT_THROTTLE_POLICY),
    clients: [WEB_CLIENT, HOSTILE_CLIENT, OWN_SITE],
    extraConfiguration: { extraClientMetadata: { properties: ['first_party'] } },
  });
  h.users.add('alice', 'correct horse battery staple', 'Alice Example');
});
after(() => h.close());

describe('login page', () => {
  test('renders labelled fields with autocomplete hints under a strict CSP', async () => {
    const { page } = await openLogin(h);
    assert.equal(page.res.status, 200);
    assertStrictPage(page.res, page.body);
    assert.match(page.body, /<label for="identifier">/);
    assert.match(page.body, /<input id="identifier" name="identifier" type="text"[^>]* autocomplete="username"[^>]* autofocus>/);
    assert.match(page.body, /<label for="password">/);
    assert.match(page.body, /<input id="password" name="password" type="password" autocomplete="current-password"/);
    assert.match(page.body, /Example Web App/);
    assert.match(
      page.res.headers.get('content-security-policy') ?? '',
      /form-action 'self' https:\/\/app\.example\.test(;|$)/,
      'the redirect chain may end at the client',
    );
    assert.doesNotMatch(page.body, /Forgot password/, 'no reset link without a reset URL');
  });

  test('the stylesheet is served from our own origin', async () => {
    const res = await fetch(`${h.issuer}/interaction/static/idp.css`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/css/);
    assert.match(await res.text(), /\.card/);
    const missing = await fetch(`${h.issuer}/interaction/static/nope.css`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  test('a hostile client name is escaped, never markup', async () => {
    const { page } = await openLogin(h, HOSTILE_CLIENT);
    assert.equal(page.res.status, 200);
    assert.doesNotMatch(page.body, /<script|<img/i);
    assert.ok(page.body.includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#39;'), 'escaped name shown');
  });

  test('the same generic message for an unknown account and a wrong password', async () => {
    const unknown = await openLogin(h);
    const a = await unknown.browser.follow(`/interaction/${unknown.uid}/login`, {
      form: { csrf: unknown.csrf, identifier: 'nobody', password: 'whatever-it-is' },
    });
    const wrong = await openLogin(h);
    const b = await wrong.browser.follow(`/interaction/${wrong.uid}/login`, { form: { csrf: wrong.csrf, identifier: 'alice', password: 'whatever-it-is' } });
    assert.equal(a.res.status, 401);
    assert.equal(b.res.status, a.res.status);
    const normalise = (body: string, uid: string, csrf: string, identifier: string) =>
      body.replaceAll(uid, 'UID').replaceAll(csrf, 'CSRF').replace(`value="${identifier}"`, 'value="ID"');
    assert.equal(normalise(a.body, unknown.uid, unknown.csrf, 'nobody'), normalise(b.body, wrong.uid, wrong.csrf, 'alice'));
    assert.match(a.body, /Incorrect login or password/);
    assertStrictPage(a.res, a.body);
    // The error is announced, focused, and linked to the field.
    assert.match(a.body, /<div class="error-summary"[^>]* role="alert" aria-live="assertive"[^>]* tabindex="-1" autofocus>/);
    assert.match(a.body, /<a href="#identifier">Incorrect login or password<\/a>/);
    assert.match(a.body, /aria-invalid="true" aria-describedby="identifier-error"/);
    assert.doesNotMatch(a.body, /whatever-it-is/, 'the password is never echoed');
  });

  test('empty fields are named, and the login service is not asked', async () => {
    const { browser, uid, csrf } = await openLogin(h);
    const before = h.users.calls.length;
    const res = await browser.follow(`/interaction/${uid}/login`, { form: { csrf, identifier: '  ', password: '' } });
    assert.equal(res.res.status, 400);
    assert.match(res.body, /<a href="#identifier">Enter your email address or username<\/a>/);
    assert.match(res.body, /<a href="#password">Enter your password<\/a>/);
    assert.equal(h.users.calls.length, before);
  });

  test('a forgot-password link appears only when a reset URL is configured', async () => {
    const withReset = await startPageHarness({
      throttle: createMemoryThrottle(DEFAULT_THROTTLE_POLICY),
      forgotPasswordUrl: 'https://legacy.example.test/reset?from=idp&x=1',
    });
    try {
      const { page } = await openLogin(withReset);
      assert.match(page.body, /<a href="https:\/\/legacy\.example\.test\/reset\?from=idp&amp;x=1">Forgot password\?<\/a>/);
    } finally {
      await withReset.close();
    }
  });

  test('a wrong login is counted in the metrics by result', async () => {
    const text = await h.registry.metrics();
    assert.match(text, /idp_login_page_submissions_total\{result="failure"\} [1-9]/);
    assert.match(text, /idp_login_page_submissions_total\{result="invalid_form"\} [1-9]/);
  });
});

describe('CSRF', () => {
  test("a login POST without the token, or with another interaction's, is refused before any check", async () => {
    const first = await openLogin(h);
    const second = await openLogin(h);
    const before = h.users.calls.length;
    const missing = await first.browser.follow(`/interaction/${first.uid}/login`, { form: { identifier: 'alice', password: 'correct horse battery staple' } });
    assert.equal(missing.res.status, 403);
    assertStrictPage(missing.res, missing.body);
    const borrowed = await first.browser.follow(`/interaction/${first.uid}/login`, {
      form: { csrf: second.csrf, identifier: 'alice', password: 'correct horse battery staple' },
    });
    assert.equal(borrowed.res.status, 403);
    const forged = await first.browser.follow(`/interaction/${first.uid}/login`, {
      form: { csrf: `${first.csrf.slice(0, -2)}AA`, identifier: 'alice', password: 'correct horse battery staple' },
    });
    assert.equal(forged.res.status, 403);
    assert.equal(h.users.calls.length, before, 'the password was never checked');
    // The genuine token still works afterwards.
    const ok = await first.browser.follow(`/interaction/${first.uid}/login`, {
      form: { csrf: first.csrf, identifier: 'alice', password: 'correct horse battery staple' },
    });
    assert.equal(ok.res.status, 200);
    assert.match(ok.body, /Allow/);
  });

  test('consent and abort need the token too', async () => {
    const opened = await openLogin(h);
    const { browser } = opened;
    const { uid } = await signIn(opened);
    const confirm = await browser.follow(`/interaction/${uid}/confirm`, { form: { decision: 'allow' } });
    assert.equal(confirm.res.status, 403);
    const abortGet = await browser.follow(`/interaction/${uid}/abort`);
    assert.equal(abortGet.res.status, 403);
    const abortPost = await browser.follow(`/interaction/${uid}/abort`, { form: { csrf: 'nope' } });
    assert.equal(abortPost.res.status, 403);
  });

  test('the interaction must be the one in the URL, and an unknown one is a plain error page', async () => {
    const { browser, csrf } = await openLogin(h);
    const other = await browser.follow('/interaction/someone-elses-uid');
    assert.equal(other.res.status, 400);
    assert.match(other.body, /This sign-in has expired/);
    const stranger = await new FormClient(h.issuer).follow('/interaction/abc/login', { form: { csrf, identifier: 'x', password: 'y' } });
    assert.equal(stranger.res.status, 400);
    assertStrictPage(stranger.res, stranger.body);
    assert.doesNotMatch(stranger.body, /SessionNotFound|at .*\.js|Error:/);
  });
});

describe('consent', () => {
  test('shows the client and each requested scope in plain words, and Allow sends a code', async () => {
    const opened = await openLogin(h, WEB_CLIENT, 'openid profile email offline_access');
    const { browser, auth } = opened;
    const { page: consent, uid, csrf } = await signIn(opened);
    assert.equal(consent.res.status, 200);
    assertStrictPage(consent.res, consent.body);
    assert.match(consent.body, /Allow <span class="client-name">Example Web App<\/span> to use your account\?/);
    assert.match(consent.body, /signed in as <strong>Alice Example<\/strong>/);
    for (const [scope, words] of [
      ['openid', 'Know who you are'],
      ['profile', 'See your name and basic profile'],
      ['email', 'See your email address'],
    ]) {
      assert.match(consent.body, new RegExp(`<li>${words}[^<]*<span class="scope">\\(${scope}\\)</span></li>`));
    }
    assert.match(consent.res.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/app\.example\.test/);
    const done = await browser.follow(`/interaction/${uid}/confirm`, { form: { csrf, decision: 'allow' } });
    const back = new URL(done.url);
    assert.equal(`${back.origin}${back.pathname}`, WEB_CLIENT.redirect_uris[0]);
    assert.equal(back.searchParams.get('state'), auth.state);
    assert.ok(back.searchParams.get('code'), 'an authorization code');
    assert.equal(back.searchParams.get('iss'), h.issuer);
  });

  test('Deny sends access_denied to the client', async () => {
    const opened = await openLogin(h);
    const { browser, auth } = opened;
    const { uid, csrf } = await signIn(opened);
    const denied = await browser.follow(`/interaction/${uid}/confirm`, { form: { csrf, decision: 'deny' } });
    const back = new URL(denied.url);
    assert.equal(`${back.origin}${back.pathname}`, WEB_CLIENT.redirect_uris[0]);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), auth.state);
    assert.equal(back.searchParams.get('code'), null);
  });

  test('a first-party client gets no consent page: signing in sends the code, with what it asked granted', async () => {
    const opened = await openLogin(h, OWN_SITE, 'openid profile');
    const done = await opened.browser.follow(`/interaction/${opened.uid}/login`, {
      form: { csrf: opened.csrf, identifier: 'alice', password: 'correct horse battery staple' },
    });
    const back = new URL(done.url);
    assert.equal(`${back.origin}${back.pathname}`, OWN_SITE.redirect_uris[0], `straight back to the site (${done.url})`);
    assert.equal(back.searchParams.get('state'), opened.auth.state);
    assert.ok(back.searchParams.get('code'), 'an authorization code');
    // Unless the site itself asks for the page.
    const browser = new FormClient(h.issuer);
    const asked = authorizeUrl(OWN_SITE.client_id, OWN_SITE.redirect_uris[0]!, 'openid', { prompt: 'consent' });
    const login = await browser.follow(asked.url);
    const uid = /\/interaction\/([^/?#]+)$/.exec(login.url)?.[1];
    const consent = await browser.follow(`/interaction/${uid}/login`, {
      form: { csrf: hiddenValue(login.body, 'csrf'), identifier: 'alice', password: 'correct horse battery staple' },
    });
    assert.match(consent.body, /Allow <span class="client-name">Members site<\/span> to use your account\?/);
  });

  test('Cancel on the login page sends access_denied to the client', async () => {
    const { browser, uid, csrf } = await openLogin(h);
    const cancelled = await browser.follow(`/interaction/${uid}/abort`, { form: { csrf } });
    assert.equal(new URL(cancelled.url).searchParams.get('error'), 'access_denied');
  });
});

describe('pages oidc-provider renders', () => {
  test('an unregistered redirect URI gets our error page, never a redirect, without internals', async () => {
    const browser = new FormClient(h.issuer);
    const auth = authorizeUrl(WEB_CLIENT.client_id, 'https://attacker.example.test/cb', 'openid');
    const res = await browser.request(auth.url);
    const body = await res.text();
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assertStrictPage(res, body);
    assert.match(body, /Sign-in could not continue/);
    assert.match(body, /Error code: invalid_redirect_uri/);
    assert.doesNotMatch(body, /attacker\.example|at .*\.js:\d+/);
  });

  test('logout asks with plain buttons bound to the provider form, then confirms', async () => {
    const opened = await openLogin(h);
    const { browser } = opened;
    const consent = await signIn(opened);
    await browser.follow(`/interaction/${consent.uid}/confirm`, { form: { csrf: consent.csrf, decision: 'allow' } });
    const ask = await browser.follow(
      `/session/end?client_id=${WEB_CLIENT.client_id}&post_logout_redirect_uri=${encodeURIComponent(WEB_CLIENT.post_logout_redirect_uris![0]!)}`,
    );
    assert.equal(ask.res.status, 200);
    assertStrictPage(ask.res, ask.body);
    assert.match(ask.body, /<form id="op\.logoutForm" method="post" action="[^"]+"><input type="hidden" name="xsrf"/);
    assert.match(ask.body, /<button type="submit" form="op\.logoutForm" name="logout" value="yes"/);
    assert.match(ask.res.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/app\.example\.test/);
    const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(ask.body)?.[1] ?? '';
    const done = await browser.follow(action, { form: { xsrf: hiddenValue(ask.body, 'xsrf'), logout: 'yes' } });
    assert.equal(new URL(done.url).href.startsWith(WEB_CLIENT.post_logout_redirect_uris![0]!), true);

    const again = await browser.follow('/session/end');
    // Signed out: oidc-provider no longer asks; a fresh login is needed.
    assert.doesNotMatch(again.body, /Sign out\?/);
  });

  test('the post-logout page is ours', async () => {
    const opened = await openLogin(h);
    const { browser } = opened;
    const consent = await signIn(opened);
    await browser.follow(`/interaction/${consent.uid}/confirm`, { form: { csrf: consent.csrf, decision: 'allow' } });
    const ask = await browser.follow('/session/end');
    const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(ask.body)?.[1] ?? '';
    const done = await browser.follow(action, { form: { xsrf: hiddenValue(ask.body, 'xsrf'), logout: 'yes' } });
    assert.equal(done.res.status, 200);
    assertStrictPage(done.res, done.body);
    assert.match(done.body, /You have signed out/);
  });
});
