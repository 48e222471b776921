// Failed-login throttling as a person (or a script) meets it on the login page, against both
// throttle stores.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createMemoryThrottle, createRedisThrottle, type LoginThrottle, type ThrottlePolicy } from '../../idp/throttle/index.ts';
import { createTestRedis, redisProblem, REDIS_TEST_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { authorizeUrl, FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { startPageHarness, WEB_CLIENT, type PageHarness } from '../support/idp.ts';

// Delays long enough that a block cannot lapse during the test, so nothing depends on timing.
const policy: ThrottlePolicy = {
  windowMs: 600_000,
  accountFreeAttempts: 2,
  addressFreeAttempts: 5,
  networkFreeAttempts: 8,
  baseDelayMs: 120_000,
  maxDelayMs: 600_000,
};
const PASSWORD = 'correct horse battery staple';

let addressCounter = 0;
/** A browser at its own client address, as the gateway reports it in X-Forwarded-For. */
function browserAt(h: PageHarness, address = `198.51.100.${++addressCounter}`) {
  return new FormClient(h.issuer, { 'x-forwarded-for': address });
}

async function tryLogin(browser: FormClient, identifier: string, password: string) {
  const auth = authorizeUrl(WEB_CLIENT.client_id, WEB_CLIENT.redirect_uris[0]!, 'openid');
  const page = await browser.follow(auth.url);
  const uid = page.url.split('/').pop()!;
  return browser.follow(`/interaction/${uid}/login`, { form: { csrf: hiddenValue(page.body, 'csrf'), identifier, password } });
}

async function behaviour(t: TestContext, throttle: LoginThrottle) {
  const h = await startPageHarness({ throttle });
  const suffix = Math.random().toString(36).slice(2, 8);
  const bob = `bob${suffix}`;
  const carol = `carol${suffix}`;
  h.users.add(bob, PASSWORD);
  h.users.add(carol, PASSWORD);
  try {
    await t.test('an unknown account is throttled exactly like a known one, with the same words', async () => {
      const ghost = `ghost${suffix}`;
      const statuses: number[] = [];
      const known: number[] = [];
      let ghostThrottled = '';
      let knownThrottled = '';
      for (let i = 0; i < 4; i++) {
        // A new address each time: only the per-account count is in play.
        const g = await tryLogin(browserAt(h), ghost, 'wrong password');
        const k = await tryLogin(browserAt(h), bob, 'wrong password');
        statuses.push(g.res.status);
        known.push(k.res.status);
        if (g.res.status === 429) ghostThrottled = g.body;
        if (k.res.status === 429) knownThrottled = k.body;
      }
      // Two free attempts, the third counted and penalised, the fourth refused.
      assert.deepEqual(statuses, [401, 401, 401, 429]);
      assert.deepEqual(known, statuses);
      assert.match(ghostThrottled, /Incorrect login or password\. Too many attempts\. Please wait a moment and try again\./);
      const strip = (body: string, id: string) =>
        body
          .replace(/\/interaction\/[^/"]+/g, '/interaction/UID')
          .replace(/name="csrf" value="[^"]*"/g, 'CSRF')
          .replace(`value="${id}"`, 'ID');
      assert.equal(strip(ghostThrottled, ghost), strip(knownThrottled, bob));
    });

    await t.test('a throttled attempt is refused even with the right password, and says when to retry', async () => {
      const before = h.users.calls.length;
      const res = await tryLogin(browserAt(h), bob, PASSWORD);
      assert.equal(res.res.status, 429);
      assert.ok(Number(res.res.headers.get('retry-after')) > 0);
      assert.equal(h.users.calls.length, before, 'the password was not even checked');
    });

    await t.test('a success resets the account count', async () => {
      assert.equal((await tryLogin(browserAt(h), carol, 'wrong password')).res.status, 401);
      assert.equal((await tryLogin(browserAt(h), carol, 'wrong password')).res.status, 401);
      const ok = await tryLogin(browserAt(h), carol, PASSWORD);
      assert.equal(ok.res.status, 200);
      assert.match(ok.body, /Allow/, 'signed in, on to consent');
      // Without the reset the next failure would be the penalised third and the one after refused.
      for (let i = 0; i < 2; i++) assert.equal((await tryLogin(browserAt(h), carol, 'wrong password')).res.status, 401);
      assert.equal((await tryLogin(browserAt(h), carol, 'wrong password')).res.status, 401);
      assert.equal((await tryLogin(browserAt(h), carol, 'wrong password')).res.status, 429);
    });

    await t.test('one address guessing at many accounts is slowed, others are not', async () => {
      const address = '203.0.113.77';
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await tryLogin(browserAt(h, address), `nobody${i}${suffix}`, 'guess')).res.status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429]);
      assert.equal((await tryLogin(browserAt(h, '203.0.113.78'), `nobody-else${suffix}`, 'guess')).res.status, 401);
    });

    await t.test('spelling one account differently earns no extra attempts', async () => {
      const dave = `dave${suffix}`;
      h.users.add(dave, PASSWORD);
      const spellings = [dave, `${dave}@example.test`, ` ${dave.toUpperCase()} `, `${dave}@EXAMPLE.test`];
      const statuses: number[] = [];
      // A new address each time, and each spelling's own typed count stays within its free attempts.
      for (const spelling of spellings) statuses.push((await tryLogin(browserAt(h), spelling, 'wrong password')).res.status);
      assert.deepEqual(statuses, [401, 401, 401, 429]);
      const right = await tryLogin(browserAt(h), `${dave}@example.test`, PASSWORD);
      assert.equal(right.res.status, 429, 'the right password under another spelling is refused too');
    });

    await t.test('throttled attempts are counted in the metrics', async () => {
      const text = await h.registry.metrics();
      assert.match(text, /idp_login_page_submissions_total\{result="throttled"\} [1-9]/);
      assert.match(text, /idp_login_throttled_total\{subject="account"\} [1-9]/);
      assert.match(text, /idp_login_throttled_total\{subject="address"\} [1-9]/);
      assert.match(text, /idp_login_throttled_total\{subject="user"\} [1-9]/);
    });
  } finally {
    await h.close();
  }
}

test('login throttling on the in-process store', async (t) => {
  await behaviour(t, createMemoryThrottle(policy));
});

test('login throttling on the Redis store', async (t) => {
  const problem = await redisProblem();
  if (problem) return skipLoudly(t, `Redis at ${REDIS_TEST_URL}`, problem);
  const { redis, cleanup } = await createTestRedis();
  try {
    await behaviour(t, createRedisThrottle(redis, policy));
  } finally {
    await cleanup();
  }
});
