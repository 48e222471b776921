// What a sign-in vouched for only by a PHP session yields, through real OIDC flows (the monolith,
// the legacy-adapter, the idp with its Redis store, the gateway): a stolen PHP session id must not
// become a long-lived credential. No refresh token, even for offline_access with prompt=consent;
// access and ID tokens and the grant end within IDP_TTL_LEGACY_SESSION of the sign-in; the access
// token ends with the idp session. A password sign-in of the same client keeps the full lifetimes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { describeOrSkip, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { authorize, OFFLINE_CLIENT, passwordLogin, phpLogin, redeemCode, tokenRequest, type TokenResponse } from './flows.ts';
import { startStack, type Stack } from '../../scripts/support/stack.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const LEGACY_TTL = 1_440;
const ACCESS_TTL = 3_600;

const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('a legacy-session sign-in yields no refresh token and nothing that outlives the PHP session', reason, () => {
  let stack: Stack;
  let redis: Redis;
  const prefix = `test-legacy-tokens-${randomBytes(4).toString('hex')}:`;
  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    stack = await startStack({
      db: 'sqlite',
      sessionStore: 'db',
      tmpPrefix: 'legacy-session-tokens-',
      // Access tokens longer than the PHP session, so the cap is what shortens them.
      env: { idp: { REDIS_URL, REDIS_KEY_PREFIX: prefix, IDP_TTL_LEGACY_SESSION: String(LEGACY_TTL), IDP_TTL_ACCESS_TOKEN: String(ACCESS_TTL) } },
    });
  });
  after(async () => {
    await stack?.stop();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis?.disconnect();
  });

  /** Milliseconds left on the stored grant of `sub` (the idp's Redis store). */
  async function grantLifetimeMs(sub: string): Promise<number> {
    const found: number[] = [];
    for (const key of await redis.keys(`${prefix}*Grant:*`)) {
      const payload = JSON.parse((await redis.get(key)) ?? '{}') as { accountId?: string };
      if (payload.accountId === sub) found.push(await redis.pttl(key));
    }
    assert.equal(found.length, 1, `one grant of ${sub}`);
    return found[0]!;
  }

  const userinfo = (token: TokenResponse) => fetch(`${stack.gateway}/me`, { headers: { authorization: `Bearer ${token.access_token}` } });

  /** RP-initiated logout at the idp in `browser`: the idp session ends. */
  async function endIdpSession(browser: FormClient) {
    const confirm = await browser.request(`/session/end?client_id=${OFFLINE_CLIENT.id}`);
    const body = await confirm.text();
    const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(body)?.[1];
    assert.ok(action, 'the idp asks to confirm the sign-out');
    const done = await browser.request(action, { form: { xsrf: hiddenValue(body, 'xsrf'), logout: 'yes' } });
    await done.body?.cancel();
  }

  test('offline_access with prompt=consent: a password sign-in gets a refresh token, a legacy-session one none', async () => {
    // The password sign-in first: the same client and request do get a refresh token and full lifetimes.
    const other = new FormClient(stack.gateway);
    const page = await authorize(other, stack.gateway, { prompt: 'consent' }, OFFLINE_CLIENT);
    const full = await redeemCode(stack.gateway, await passwordLogin(other, stack.gateway, page, 'carol'), OFFLINE_CLIENT);
    assert.ok(full.refresh_token, 'a password sign-in with offline_access gets a refresh token');
    assert.equal(full.expires_in, ACCESS_TTL);
    const carol = decodeJwt(full.id_token!);
    assert.deepEqual(carol.amr, ['pwd']);
    assert.equal(carol.exp! - carol.iat!, 3_600, 'a password sign-in: IDP_TTL_ID_TOKEN');
    assert.ok((await grantLifetimeMs(carol.sub!)) > 86_400_000, 'the grant of a password sign-in lives its 14 days');

    const browser = new FormClient(stack.gateway);
    await phpLogin(browser, 'dave');
    const outcome = await authorize(browser, stack.gateway, { prompt: 'consent' }, OFFLINE_CLIENT);
    assert.equal(outcome.kind, 'code', 'signed in by the PHP session, no password page');
    const tokens = await redeemCode(stack.gateway, outcome, OFFLINE_CLIENT);
    assert.equal(tokens.refresh_token, undefined, 'no refresh token for a PHP-session sign-in');
    const claims = decodeJwt(tokens.id_token!);
    assert.deepEqual(claims.amr, ['legacy_session'], 'the ID token says how the user signed in');
    // IDP_TTL_ID_TOKEN is 3600 s: only the cap makes it this short.
    assert.ok(claims.exp! - claims.iat! <= LEGACY_TTL, `the ID token ends with the PHP session (${claims.exp! - claims.iat!} s)`);
    assert.ok(tokens.expires_in <= LEGACY_TTL, `the access token ends with the PHP session (${tokens.expires_in} s)`);
    assert.ok((await grantLifetimeMs(claims.sub!)) <= LEGACY_TTL * 1000, 'so does the grant');

    // The access token ends with the idp session (a password sign-in's offline one does not).
    assert.equal((await userinfo(tokens)).status, 200);
    await endIdpSession(browser);
    assert.equal((await userinfo(tokens)).status, 401, 'the legacy-session access token died with the idp session');
    await endIdpSession(other);
    assert.equal((await userinfo(full)).status, 200, 'the offline access token of a password sign-in outlives its session');
    // And its refresh token still rotates, with the full lifetime.
    const rotated = await tokenRequest(stack.gateway, { grant_type: 'refresh_token', refresh_token: full.refresh_token }, OFFLINE_CLIENT);
    assert.ok(rotated.refresh_token && rotated.refresh_token !== full.refresh_token);
    assert.deepEqual(decodeJwt(rotated.id_token!).amr, ['pwd']);
  });
});
