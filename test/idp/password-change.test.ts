// The self-service password change (GET/POST /account/password) against a running idp: a change
// made from one browser revokes the account's other grants and sessions and keeps this one.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { formProblem } from '../../idp/account/password-rules.ts';
import { createDatabase, type Knex } from '../../lib/db.ts';
import { skipLoudly } from '../../scripts/support/databases.ts';
import { redisServerProblem, startOwnRedis } from '../../scripts/support/redis-server.ts';
import { startTcpProxy } from '../../scripts/support/tcp-proxy.ts';
import { authorize, UserAgent } from '../../scripts/support/browser.ts';
import {
  API_SECRET,
  closeSharedResources,
  CONFIDENTIAL_REDIRECT,
  CONFIDENTIAL_SECRET,
  NATIVE_REDIRECT,
  seedLegacyUser,
  storedPasswordHash,
  withIdp,
  type Storage,
  type TestIdp,
} from '../support/idp.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';

after(closeSharedResources);
const insecure = { execute: [oidc.allowInsecureRequests] };
const NEW_PASSWORD = 'a brand new passphrase 2026';

async function signIn(idp: TestIdp, clientId: string, auth: oidc.ClientAuth, redirectUri: string, password = PASSWORD) {
  const config = await oidc.discovery(new URL(idp.issuer), clientId, {}, auth, insecure);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid offline_access',
    prompt: 'consent',
    state: 's',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const agent = new UserAgent();
  const callback = await authorize(agent, url, redirectUri, { username: 'erin', password });
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' });
  assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
  return { config, tokens, agent };
}

async function expectInvalidGrant(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    const err = e as { error?: string; cause?: { error?: string } };
    assert.equal(err.error ?? err.cause?.error, 'invalid_grant', `expected invalid_grant, got ${String(e)}`);
    return true;
  });
}

async function openPage(idp: TestIdp, agent: UserAgent) {
  const response = await agent.request(`${idp.url}/account/password`);
  const html = await response.text();
  return { status: response.status, html, csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1], headers: response.headers };
}

async function submit(idp: TestIdp, agent: UserAgent, fields: Record<string, string>) {
  const response = await agent.request(`${idp.url}/account/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, html: await response.text() };
}

async function passwordChangedAt(idp: TestIdp, userId: string): Promise<unknown> {
  const row = (await idp.db.knex('users').where({ id: userId }).first('password_changed_at')) as { password_changed_at: unknown };
  return row.password_changed_at;
}

for (const storage of [
  { db: 'mysql', redis: true },
  { db: 'sqlite', redis: false },
] satisfies Storage[]) {
  const name = storage.redis ? 'MariaDB + Redis' : 'embedded';
  test(`${name}: a password change revokes the other client's grant and session, keeps this browser, and swaps the password`, async (t) => {
    await withIdp(t, storage, async (idp) => {
      const userId = await seedLegacyUser(idp, 'erin');

      // Not signed in: a page that says to sign in through an application, for GET and POST.
      const stranger = await openPage(idp, new UserAgent());
      assert.equal(stranger.status, 401);
      assert.match(stranger.html, /Sign in through one of your applications/);
      assert.equal(
        (await submit(idp, new UserAgent(), { 'current-password': PASSWORD, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD })).status,
        401,
      );

      const a = await signIn(idp, 'native-app', oidc.None(), NATIVE_REDIRECT);
      const b = await signIn(idp, 'web-app', oidc.ClientSecretBasic(CONFIDENTIAL_SECRET), CONFIDENTIAL_REDIRECT);
      const api = await oidc.discovery(new URL(idp.issuer), 'orders-api', {}, oidc.ClientSecretBasic(API_SECRET), insecure);
      assert.equal((await oidc.tokenIntrospection(api, b.tokens.access_token)).active, true, "B's access token is live before the change");

      const page = await openPage(idp, a.agent);
      assert.equal(page.status, 200);
      assert.ok(page.csrf, 'the form carries a CSRF token');
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      const before = await storedPasswordHash(idp, userId);
      const change = { 'current-password': PASSWORD, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD };

      // CSRF: missing, or another session's token, is refused and changes nothing.
      assert.equal((await submit(idp, a.agent, change)).status, 403);
      const otherToken = (await openPage(idp, b.agent)).csrf;
      assert.ok(otherToken && otherToken !== page.csrf, 'each session has its own token');
      assert.equal((await submit(idp, a.agent, { ...change, csrf: otherToken })).status, 403);
      assert.equal(await storedPasswordHash(idp, userId), before);

      // A wrong current password: a generic error, nothing changes, B keeps working.
      const wrong = await submit(idp, a.agent, { ...change, 'current-password': 'not the password', csrf: page.csrf! });
      assert.equal(wrong.status, 400);
      assert.match(wrong.html, /Your current password is incorrect/);
      assert.doesNotMatch(wrong.html, /pbkdf2|phpass|\$P\$|stack|Error:\s*at /i);
      assert.equal(await storedPasswordHash(idp, userId), before);
      assert.equal(await passwordChangedAt(idp, userId), null);

      // The new password's rules.
      const short = await submit(idp, a.agent, { ...change, 'new-password': 'short', 'confirm-password': 'short', csrf: page.csrf! });
      assert.equal(short.status, 400);
      assert.match(short.html, /at least 8 characters/);
      const mismatch = await submit(idp, a.agent, { ...change, 'confirm-password': `${NEW_PASSWORD}!`, csrf: page.csrf! });
      assert.equal(mismatch.status, 400);
      assert.match(mismatch.html, /do not match/);
      const same = await submit(idp, a.agent, { ...change, 'new-password': PASSWORD, 'confirm-password': PASSWORD, csrf: page.csrf! });
      assert.equal(same.status, 400);
      assert.match(same.html, /different from your current one/);
      assert.equal(await storedPasswordHash(idp, userId), before);
      const bRefreshed = await oidc.refreshTokenGrant(b.config, b.tokens.refresh_token!);

      // The change.
      const done = await submit(idp, a.agent, { ...change, csrf: page.csrf! });
      assert.equal(done.status, 200);
      assert.match(done.html, /Your password was changed/);
      const changed = await storedPasswordHash(idp, userId);
      assert.notEqual(changed, before);
      assert.match(changed, /^\$pbkdf2-sha256\$i=20000,/, 'written with the configured policy');
      assert.notEqual(await passwordChangedAt(idp, userId), null);

      // B: refresh token and access token dead, browser session ended.
      await expectInvalidGrant(oidc.refreshTokenGrant(b.config, bRefreshed.refresh_token!));
      assert.equal((await oidc.tokenIntrospection(api, bRefreshed.access_token)).active, false, "B's access token is inactive");
      assert.equal((await openPage(idp, b.agent)).status, 401, "B's browser session is signed out");
      // A: still signed in, its grant still refreshes.
      assert.equal((await openPage(idp, a.agent)).status, 200, 'this browser stays signed in');
      const aRefreshed = await oidc.refreshTokenGrant(a.config, a.tokens.refresh_token!);
      assert.equal((await oidc.tokenIntrospection(api, aRefreshed.access_token)).active, true);

      // The new password signs in, the old one does not.
      await assert.rejects(
        signIn(idp, 'web-app', oidc.ClientSecretBasic(CONFIDENTIAL_SECRET), CONFIDENTIAL_REDIRECT, PASSWORD),
        /interaction step answered 401/,
      );
      const again = await signIn(idp, 'web-app', oidc.ClientSecretBasic(CONFIDENTIAL_SECRET), CONFIDENTIAL_REDIRECT, NEW_PASSWORD);
      assert.equal(again.tokens.claims()?.sub, userId);

      const metrics = await (await fetch(`${idp.opsUrl}/metrics`)).text();
      assert.match(metrics, /idp_password_changes_total\{result="success",service="idp"\} 1\b/);
      assert.match(metrics, /idp_password_changes_total\{result="forged",service="idp"\} 2\b/);
      assert.match(metrics, /idp_password_changes_total\{result="incorrect_current",service="idp"\} 1\b/);
      assert.match(metrics, /idp_password_changes_total\{result="invalid_form",service="idp"\} 3\b/);
      assert.match(metrics, /idp_password_change_revocations_total\{kind="grant",service="idp"\} 1\b/);
      assert.match(metrics, /idp_password_change_revocations_total\{kind="session",service="idp"\} 1\b/);
    });
  });
}

test('embedded: guesses at the current password are throttled like logins, and a throttled attempt changes nothing', async (t) => {
  const env = { IDP_LOGIN_THROTTLE_ACCOUNT_FREE_ATTEMPTS: '1', IDP_LOGIN_THROTTLE_BASE_DELAY_MS: '600000', IDP_LOGIN_THROTTLE_MAX_DELAY_MS: '600000' };
  await withIdp(
    t,
    { db: 'sqlite', redis: false },
    async (idp) => {
      const userId = await seedLegacyUser(idp, 'erin');
      const a = await signIn(idp, 'native-app', oidc.None(), NATIVE_REDIRECT);
      const { csrf } = await openPage(idp, a.agent);
      assert.ok(csrf);
      const before = await storedPasswordHash(idp, userId);
      const guess = { 'current-password': 'wrong guess', 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD, csrf };
      assert.equal((await submit(idp, a.agent, guess)).status, 400);
      assert.equal((await submit(idp, a.agent, guess)).status, 400, 'the second attempt is still checked; it imposes the delay on the next');
      const refused = await submit(idp, a.agent, { ...guess, 'current-password': PASSWORD });
      assert.equal(refused.status, 429, 'even the right password waits out the delay');
      assert.match(refused.html, /Too many attempts/);
      assert.equal(await storedPasswordHash(idp, userId), before);
      const metrics = await (await fetch(`${idp.opsUrl}/metrics`)).text();
      assert.match(metrics, /idp_password_changes_total\{result="throttled",service="idp"\} 1\b/);
    },
    { env },
  );
});

test('embedded: a browser signed in without any grant yet (consent not given) stays signed in after its change', async (t) => {
  await withIdp(t, { db: 'sqlite', redis: false }, async (idp) => {
    await seedLegacyUser(idp, 'erin');
    const other = await signIn(idp, 'native-app', oidc.None(), NATIVE_REDIRECT);
    // Sign in, then stop at the consent step: the session exists, no grant does.
    const config = await oidc.discovery(new URL(idp.issuer), 'web-app', {}, oidc.ClientSecretBasic(CONFIDENTIAL_SECRET), insecure);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CONFIDENTIAL_REDIRECT,
      scope: 'openid',
      state: 's',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const agent = new UserAgent();
    const toLogin = await agent.request(url);
    const interaction = new URL(toLogin.headers.get('location')!, idp.issuer);
    const loggedIn = await agent.request(`${interaction.href}/test-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'erin', password: PASSWORD }),
    });
    const resumed = await agent.request(new URL(loggedIn.headers.get('location')!, idp.issuer));
    await Promise.all([toLogin, loggedIn, resumed].map((r) => r.body?.cancel()));
    assert.match(resumed.headers.get('location') ?? '', /^\/interaction\//, 'the consent step is next');

    const { csrf } = await openPage(idp, agent);
    assert.ok(csrf, 'signed in without a grant');
    const done = await submit(idp, agent, { 'current-password': PASSWORD, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD, csrf });
    assert.equal(done.status, 200);
    assert.equal((await openPage(idp, agent)).status, 200, 'this browser stays signed in');
    assert.equal((await openPage(idp, other.agent)).status, 401, 'the other browser is signed out');
    await expectInvalidGrant(oidc.refreshTokenGrant(other.config, other.tokens.refresh_token!));
  });
});

/** Polls until `check` holds; a bound only so a broken idp fails instead of hanging. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`never: ${what}`);
}

/** Whether a statement of database `schema` waits for a row lock (the test's FOR UPDATE). */
async function waitsForLock(knex: Knex, schema: string): Promise<boolean> {
  const [rows] = (await knex.raw(
    "select count(*) as n from information_schema.innodb_trx t join information_schema.processlist p on p.id = t.trx_mysql_thread_id where t.trx_state = 'LOCK WAIT' and p.db = ?",
    [schema],
  )) as [{ n: number | string }[]];
  return Number(rows[0]?.n) > 0;
}

test('MariaDB + Redis failing after the change committed: the page says so, and the other sessions end once Redis is back', async (t) => {
  const problem = redisServerProblem();
  if (problem) return skipLoudly(t, 'redis-server', problem);
  const redis = await startOwnRedis();
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
  try {
    await withIdp(
      t,
      { db: 'mysql', redis: false },
      async (idp) => {
        const userId = await seedLegacyUser(idp, 'erin');
        const a = await signIn(idp, 'native-app', oidc.None(), NATIVE_REDIRECT);
        const b = await signIn(idp, 'web-app', oidc.ClientSecretBasic(CONFIDENTIAL_SECRET), CONFIDENTIAL_REDIRECT);
        const { csrf } = await openPage(idp, a.agent);
        assert.ok(csrf);
        const before = await storedPasswordHash(idp, userId);

        // The user's row held by another session: the change's UPDATE waits for it, and Redis
        // goes away meanwhile, so the revocation after the commit is what meets the outage.
        const locker = createDatabase(idp.db.url, { pool: { min: 1, max: 1 } });
        const pending = () =>
          idp.db
            .knex('pending_revocations')
            .where({ account_id: userId })
            .count({ n: '*' })
            .then((r) => Number(r[0]?.n));
        try {
          const trx = await locker.transaction();
          await trx('users').where({ id: userId }).forUpdate().first('id');
          const change = submit(idp, a.agent, { 'current-password': PASSWORD, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD, csrf });
          await eventually('the change waits for the row lock', () => waitsForLock(idp.db.knex, new URL(idp.db.url).pathname.slice(1)));
          proxy.setMode('refuse');
          await trx.commit();
          const done = await change;
          assert.equal(done.status, 200, done.html);
          assert.match(done.html, /Your password was changed/);
          assert.match(done.html, /could not be signed out yet/);
          assert.notEqual(await storedPasswordHash(idp, userId), before, 'the change is committed');
          assert.equal(await pending(), 1, 'the revocation is recorded');
        } finally {
          await locker.destroy();
        }

        proxy.setMode('open');
        await eventually('the retrier revoked once Redis was back', async () => (await pending()) === 0);
        await expectInvalidGrant(oidc.refreshTokenGrant(b.config, b.tokens.refresh_token!));
        assert.equal((await openPage(idp, b.agent)).status, 401, "B's browser session is signed out");
        assert.equal((await openPage(idp, a.agent)).status, 200, 'this browser stays signed in');
        await oidc.refreshTokenGrant(a.config, a.tokens.refresh_token!);
        const metrics = await (await fetch(`${idp.opsUrl}/metrics`)).text();
        assert.match(metrics, /idp_password_changes_total\{result="revoke_deferred",service="idp"\} 1\b/);
        assert.match(metrics, /idp_password_change_deferred_revocations_total\{result="done",service="idp"\} 1\b/);
      },
      { env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_KEY_PREFIX: 'password-change:' } },
    );
  } finally {
    await proxy.close();
    await redis.stop();
  }
});

test('new password rules: 8 characters as a person counts them, at most what the login form reads', () => {
  const form = (next: string, confirm = next, current = 'old password') => formProblem({ current, next, confirm });
  assert.equal(form('1234567'), 'too-short');
  assert.equal(form('12345678'), undefined);
  assert.equal(form('😀😀😀😀😀😀😀'), 'too-short', 'seven emoji are seven characters');
  assert.equal(form('x'.repeat(1024)), undefined);
  assert.equal(form('x'.repeat(1025)), 'too-long');
  assert.equal(form('😀'.repeat(513)), 'too-long', 'the login form cuts at 1024 UTF-16 units');
  assert.equal(form('12345678', '12345679'), 'mismatch');
  assert.equal(form('old password'), 'same-as-current');
  assert.equal(form('12345678', '12345678', ''), 'missing-current');
});
