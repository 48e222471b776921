// The idp accepting a live PHP session as the login, end to end with real processes: a user
// logged in on the monolith's own login.php (through the gateway, one origin) signs in to the idp
// without a password, once; anything doubtful shows the password page instead.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { authorizeUrl, FormClient } from '../../scripts/support/form-client.ts';
import { describeOrSkip, legacyKnex, legacyPhpUnavailableReason, startLegacyPhp, type LegacyPhp } from '../../scripts/support/legacy-php.ts';
import { startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { authorize, idToken, passwordLogin, phpLogin, walk } from './flows.ts';
import { postJson, startStack, type Stack } from '../../scripts/support/stack.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET, startAdapterProcess } from '../../scripts/support/legacy-adapter.ts';
import { sample } from '../support/prometheus-text.ts';

/**
 * An authorization request straight at an idp, the browser holding only `cookie` (the monolith's):
 * the interaction page's status and body, or the redirect the idp answered it with.
 */
async function interactionWith(idpUrl: string, gateway: string, cookie: string): Promise<{ status: number; body: string }> {
  const start = await fetch(`${idpUrl}${authorizeUrl('gateway', `${gateway}/auth/callback`, 'openid').url}`, { redirect: 'manual', headers: { cookie } });
  assert.equal(start.status, 303);
  const cookies = start.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const page = await fetch(new URL(start.headers.get('location')!, idpUrl), { redirect: 'manual', headers: { cookie: `${cookies}; ${cookie}` } });
  return { status: page.status, body: await page.text() };
}

/** Seconds until the idp's session cookie (oidc-provider's `_session`) last set in `browser` expires. */
function sessionLifetimeSeconds(browser: FormClient): number {
  const line = browser.setCookies.findLast((c) => c.startsWith('_session='));
  assert.ok(line, 'the idp set its session cookie');
  const expires = /;\s*expires=([^;]+)/i.exec(line)?.[1];
  assert.ok(expires, `the session cookie has an expiry: ${line.replace(/=[^;]+/, '=...')}`);
  return (Date.parse(expires) - Date.now()) / 1000;
}

async function metric(stack: Stack, result: string): Promise<number> {
  const text = await (await fetch(`${stack.idp.opsUrl}/metrics`)).text();
  return sample(text, 'idp_legacy_session_logins_total', { result });
}

const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('the idp accepts a live PHP session as the login (sessions table)', reason, () => {
  let stack: Stack & { idpDb: Knex };
  let db: Knex;
  const sessionIds: string[] = [];
  before(async () => {
    stack = await startStack({
      db: 'sqlite',
      sessionStore: 'db',
      tmpPrefix: 'legacy-session-login-',
      env: { adapter: { LOG_LEVEL: 'debug' }, idp: { LEGACY_ADAPTER_TIMEOUT_MS: '2000', LOG_LEVEL: 'debug' } },
      idpDb: true,
    });
    db = legacyKnex(stack.php);
  });
  after(async () => {
    await db?.destroy();
    await stack?.stop();
  });

  test('logged in on the monolith, /auth/login at the gateway signs in without a password and lands on account.php', async () => {
    const browser = new FormClient(stack.gateway);
    sessionIds.push(await phpLogin(browser, 'erin'));
    const accepted = await metric(stack, 'accepted');
    const start = await browser.request('/auth/login?return_to=/account.php');
    assert.equal(start.status, 302);
    // The first sign-in of this client may ask for consent; never for a password.
    const outcome = await walk(browser, stack.gateway, start, `${stack.gateway}/auth/login`, '');
    assert.equal(outcome.kind, 'code', 'no password page');
    if (outcome.kind !== 'code') return;
    const url = outcome.callback;
    const landed = await browser.request(url);
    assert.equal(landed.status, 302, await landed.clone().text());
    assert.equal(landed.headers.get('location'), '/account.php');
    const fresh = /^PHPSESSID=([^;]+)/.exec(landed.headers.getSetCookie().find((c) => c.startsWith('PHPSESSID='))!)![1]!;
    assert.notEqual(fresh, sessionIds[0], 'the bridge gives the browser a fresh PHP session');
    sessionIds.push(fresh);
    assert.match(await (await browser.request('/account.php')).text(), /<td id="account-login">erin<\/td>/);
    assert.equal(await metric(stack, 'accepted'), accepted + 1);
  });

  test('the ID token says amr legacy_session; the user is imported with the legacy hash; the idp session then stands on its own', async () => {
    const browser = new FormClient(stack.gateway);
    const sessionId = await phpLogin(browser, 'frank');
    sessionIds.push(sessionId);
    const claims = await idToken(stack.gateway, await authorize(browser, stack.gateway));
    assert.deepEqual(claims.amr, ['legacy_session']);
    // Only as long-lived as the PHP session that vouched for it (IDP_TTL_LEGACY_SESSION, 1440 s),
    // not the 14 days of a password sign-in, so a stolen PHP session id buys no more than itself.
    assert.ok(sessionLifetimeSeconds(browser) <= 1_440, `idp session lives ${sessionLifetimeSeconds(browser)} s`);
    const imported = await stack.idpDb('users').where({ legacy_id: '6' }).first();
    assert.ok(imported, 'frank is in the idp');
    assert.equal(claims.sub, imported.id);
    const legacyRow = await db('users').where({ user_id: 6 }).first('user_pass');
    assert.equal(imported.password_hash, legacyRow.user_pass, 'the legacy hash, kept for a later password login');
    assert.equal(imported.password_scheme, 'crypt-sha512');
    assert.equal(imported.username, 'frank');

    // Logged out of the monolith: the idp session does not ask the PHP session again.
    const accepted = await metric(stack, 'accepted');
    await db('sessions').where({ id: sessionId }).delete();
    const again = await idToken(stack.gateway, await authorize(browser, stack.gateway));
    assert.equal(again.sub, claims.sub);
    assert.deepEqual(again.amr, ['legacy_session']);
    assert.equal(await metric(stack, 'accepted'), accepted, 'no second look-up');

    // And the legacy password still signs frank in, in another browser.
    const other = new FormClient(stack.gateway);
    const page = await authorize(other, stack.gateway);
    assert.equal(page.kind, 'password');
    const code = await passwordLogin(other, stack.gateway, page, 'frank');
    assert.equal(code.kind, 'code');
    assert.ok(sessionLifetimeSeconds(other) > 86_400, 'a password sign-in gets the full session lifetime');
  });

  test('prompt=login, max_age, and a login_hint for another account show the password page despite a live PHP session', async () => {
    const browser = new FormClient(stack.gateway);
    sessionIds.push(await phpLogin(browser, 'grace'));
    const before = { accepted: await metric(stack, 'accepted'), mismatch: await metric(stack, 'hint_mismatch') };
    assert.equal((await authorize(browser, stack.gateway, { prompt: 'login' })).kind, 'password', 'prompt=login');
    assert.equal((await authorize(browser, stack.gateway, { max_age: '0' })).kind, 'password', 'max_age=0');
    assert.equal((await authorize(browser, stack.gateway, { max_age: '3600' })).kind, 'password', 'max_age');
    assert.equal((await authorize(browser, stack.gateway, { login_hint: 'alice' })).kind, 'password', 'another login_hint');
    assert.equal(await metric(stack, 'accepted'), before.accepted);
    assert.equal(await metric(stack, 'hint_mismatch'), before.mismatch + 1);
    // The matching hint (e-mail, any case) is grace herself.
    const claims = await idToken(stack.gateway, await authorize(browser, stack.gateway, { login_hint: 'Grace@Example.com' }));
    assert.deepEqual(claims.amr, ['legacy_session']);
    // Now signed in to the idp: prompt=login still wants the password.
    assert.equal((await authorize(browser, stack.gateway, { prompt: 'login' })).kind, 'password');
  });

  test('an expired, tampered or logged-out PHP session, or garbage in it, shows the password page', async () => {
    const invalid = await metric(stack, 'invalid');
    // Idle past the lifetime (1440 s by default): the monolith itself would not read it.
    let browser = new FormClient(stack.gateway);
    let id = await phpLogin(browser, 'ivan');
    sessionIds.push(id);
    await db('sessions')
      .where({ id })
      .update({ last_access: Math.floor(Date.now() / 1000) - 1500 });
    assert.equal((await authorize(browser, stack.gateway)).kind, 'password', 'expired');
    assert.equal((await browser.request('/account.php')).status, 302, 'PHP agrees: logged out');

    // A session id one character off.
    browser = new FormClient(stack.gateway);
    id = await phpLogin(browser, 'ken');
    sessionIds.push(id);
    const tampered = `${id.slice(0, -1)}${id.endsWith('a') ? 'b' : 'a'}`;
    for (const value of [tampered, 'short', `${id}; PHPSESSID=${tampered}`]) {
      const res = await fetch(`${stack.gateway}${authorizeUrl('gateway', `${stack.gateway}/auth/callback`, 'openid').url}`, {
        redirect: 'manual',
        headers: { cookie: `PHPSESSID=${value}` },
      });
      // The idp's interaction cookies come back; replay them with the forged PHP cookie.
      const interaction = new URL(res.headers.get('location')!, stack.gateway);
      const cookies = res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const page = await fetch(interaction, { redirect: 'manual', headers: { cookie: `${cookies}; PHPSESSID=${value}` } });
      assert.equal(page.status, 200, value);
      assert.match(await page.text(), /name="identifier"/, value);
    }

    // Logged out on the monolith (no user_id in the session any more), and undecodable data.
    const logout = await browser.request('/logout.php');
    await logout.body?.cancel();
    browser = new FormClient(stack.gateway);
    id = await phpLogin(browser, 'liam');
    sessionIds.push(id);
    await db('sessions')
      .where({ id })
      .update({ data: Buffer.from('csrf_token|s:4:"abcd";') });
    assert.equal((await authorize(browser, stack.gateway)).kind, 'password', 'not logged in');
    await db('sessions')
      .where({ id })
      .update({ data: Buffer.from('user_id|i:12;login|s:99:"liam";') });
    assert.equal((await authorize(browser, stack.gateway)).kind, 'password', 'garbage');
    assert.ok((await metric(stack, 'invalid')) >= invalid + 4);
  });

  test('a user deactivated on the monolith since the PHP login gets the password page', async () => {
    const browser = new FormClient(stack.gateway);
    sessionIds.push(await phpLogin(browser, 'alice'));
    await db('users').where({ user_login: 'alice' }).update({ is_active: 0 });
    try {
      assert.equal((await authorize(browser, stack.gateway)).kind, 'password');
      assert.equal(await stack.idpDb('users').where({ legacy_id: '1' }).first(), undefined, 'not imported');
    } finally {
      await db('users').where({ user_login: 'alice' }).update({ is_active: 1 });
    }
  });

  test("the resolve endpoint wants the idp's adapter secret, and refuses malformed ids before the store", async () => {
    const resolve = (secret: string | undefined, body: unknown) => postJson(`${stack.adapter.url}/internal/v1/legacy-sessions/resolve`, secret, body);
    const browser = new FormClient(stack.gateway);
    const id = await phpLogin(browser, 'mia');
    sessionIds.push(id);
    assert.equal((await resolve(undefined, { sessionId: id })).status, 401);
    assert.equal((await resolve(BRIDGE_SECRET, { sessionId: id })).status, 401, "the session bridge's secret does not open it");
    assert.equal((await resolve(ADAPTER_SECRET, { id })).status, 400);
    for (const bad of ['', 'short', "x' OR '1'='1 0123456789abcdef", 'a'.repeat(257)]) {
      const res = await resolve(ADAPTER_SECRET, { sessionId: bad });
      assert.ok(res.status === 200 || res.status === 400, bad);
      if (res.status === 200) assert.deepEqual(await res.json(), { ok: false });
    }
    const ok = await resolve(ADAPTER_SECRET, { sessionId: id });
    const body = (await ok.json()) as { ok: boolean; user: Record<string, unknown> };
    assert.equal(body.ok, true);
    assert.deepEqual(body.user, { legacyId: '13', username: 'mia', email: 'mia@example.com', name: 'Mia Müller', active: true });
    assert.equal(ok.headers.get('cache-control'), 'no-store');
  });

  test('IDP_ACCEPT_LEGACY_SESSION=false: the password page, whatever the PHP session', async () => {
    const browser = new FormClient(stack.gateway);
    const id = await phpLogin(browser, 'oscar');
    sessionIds.push(id);
    const off = await startServiceProcess('idp/main.ts', 'IDP_PORT', {
      ...stack.idpEnv,
      DATABASE_URL: `sqlite:${join(stack.dir, 'idp-off.sqlite')}`,
      IDP_ACCEPT_LEGACY_SESSION: 'false',
    });
    try {
      const refused = await interactionWith(off.url, stack.gateway, `PHPSESSID=${id}`);
      assert.equal(refused.status, 200);
      assert.match(refused.body, /name="identifier"/);
      // The same request at the idp that accepts it finishes the login step instead.
      const accepted = await interactionWith(stack.idp.url, stack.gateway, `PHPSESSID=${id}`);
      assert.equal(accepted.status, 303);
    } finally {
      await off.stop();
    }
  });

  test("the idp reads the PHP session by the cookie name the legacy-adapter's mapping gives, not a variable of its own", async () => {
    const browser = new FormClient(stack.gateway);
    const id = await phpLogin(browser, 'carol');
    sessionIds.push(id);
    // This adapter's mapping names another cookie (its LEGACY_SESSION_NAME override); the idp is told nothing.
    const adapter = await startAdapterProcess(stack.php, { LEGACY_SESSION_NAME: 'MONOLITHSID' });
    const idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', {
      ...stack.idpEnv,
      LEGACY_ADAPTER_URL: adapter.url,
      DATABASE_URL: `sqlite:${join(stack.dir, 'idp-named.sqlite')}`,
    });
    try {
      const announced = `${adapter.url}/internal/v1/legacy-sessions/cookie`;
      const cookie = await fetch(announced, { headers: { authorization: `Bearer ${ADAPTER_SECRET}` } });
      assert.equal(((await cookie.json()) as { cookie: { name: string } }).cookie.name, 'MONOLITHSID');
      for (const headers of [{}, { authorization: `Bearer ${BRIDGE_SECRET}` }] as Record<string, string>[])
        assert.equal((await fetch(announced, { headers })).status, 401, "the idp's secret only");

      assert.equal((await interactionWith(idp.url, stack.gateway, `MONOLITHSID=${id}`)).status, 303, 'accepted under the announced name');
      const byDefault = await interactionWith(idp.url, stack.gateway, `PHPSESSID=${id}`);
      assert.equal(byDefault.status, 200);
      assert.match(byDefault.body, /name="identifier"/, 'the default name is not read');
    } finally {
      await Promise.all([idp.stop(), adapter.stop()]);
    }
  });

  test('the legacy-adapter down: the password page, counted as unavailable; no session id in any log', async () => {
    const browser = new FormClient(stack.gateway);
    sessionIds.push(await phpLogin(browser, 'nina'));
    const unavailable = await metric(stack, 'unavailable');
    await stack.adapter.stop();
    assert.equal((await authorize(browser, stack.gateway)).kind, 'password');
    assert.equal(await metric(stack, 'unavailable'), unavailable + 1);
    const logs = stack.outputs() + stack.php.logs();
    for (const id of sessionIds) assert.ok(!logs.includes(id), 'no PHP session id in the logs');
  });
});

const redisReason = await legacyPhpUnavailableReason({ db: 'mysql', sessionStore: 'redis' });

describeOrSkip('the legacy-adapter reads phpredis sessions (LEGACY_SESSION_STORE=redis)', redisReason, () => {
  let php: LegacyPhp;
  let adapter: SpawnedService;
  let redis: Redis;
  before(async () => {
    php = await startLegacyPhp({ db: 'mysql', sessionStore: 'redis' });
    adapter = await startAdapterProcess(php);
    redis = new Redis(php.redisUrl, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    redis?.disconnect();
    await adapter?.stop();
    await php?.stop();
  });

  test("a session PHP's own login wrote resolves to its user; once the key is gone it does not", async () => {
    const browser = new FormClient(php.url);
    const id = await phpLogin(browser, 'heidi');
    const resolve = async () => {
      const res = await postJson(`${adapter.url}/internal/v1/legacy-sessions/resolve`, ADAPTER_SECRET, { sessionId: id });
      assert.equal(res.status, 200);
      return (await res.json()) as { ok: boolean; user?: { legacyId: string; username: string } };
    };
    const found = await resolve();
    assert.equal(found.ok, true);
    assert.equal(found.user?.username, 'heidi');
    assert.equal(found.user?.legacyId, '8');
    assert.ok((await redis.ttl(`PHPREDIS_SESSION:${id}`)) > 0);
    await redis.del(`PHPREDIS_SESSION:${id}`);
    assert.deepEqual(await resolve(), { ok: false });
    assert.ok(!adapter.output().includes(id), 'no session id in the logs');
  });
});
