// One contract for both login throttles: the in-process one (embedded mode) and the Redis one
// (replicas), so either can stand behind the login page.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  accountKey,
  addressKey,
  createMemoryThrottle,
  networkKey,
  throttleSubjects,
  userKey,
  createRedisThrottle,
  penaltyFor,
  type LoginThrottle,
  type ThrottlePolicy,
} from '../../idp/throttle/index.ts';
import { createTestRedis, redisProblem, REDIS_TEST_URL, skipLoudly } from '../../scripts/support/databases.ts';

const policy: ThrottlePolicy = { windowMs: 60_000, accountFreeAttempts: 3, addressFreeAttempts: 6, networkFreeAttempts: 10, baseDelayMs: 40, maxDelayMs: 320 };
// For "refused right after": delays long enough that no loaded machine outlives them between two calls.
const slowPolicy: ThrottlePolicy = { ...policy, windowMs: 600_000, baseDelayMs: 30_000, maxDelayMs: 240_000 };

let counter = 0;
const fresh = (kind: string) => `${kind}-${process.pid}-${++counter}`;

/** Attempts until allowed (waiting out each delay it is told about), returning the allowed decision. */
async function attemptWhenAllowed(throttle: LoginThrottle, subjects: { account: string; address: string }) {
  for (let i = 0; i < 50; i++) {
    const decision = await throttle.attempt(subjects);
    if (decision.allowed) return decision;
    await sleep(decision.retryAfterMs + 5);
  }
  throw new Error('never allowed');
}

async function contract(t: TestContext, make: (p?: ThrottlePolicy) => LoginThrottle): Promise<void> {
  await t.test('delays start after the free attempts and double up to the cap', async () => {
    const throttle = make();
    const account = fresh('acct');
    const penalties: number[] = [];
    for (let i = 0; i < 8; i++) {
      // A new address each time, so only the account's count is in play.
      const subjects = { account, address: fresh('addr') };
      const decision = await attemptWhenAllowed(throttle, subjects);
      const decidedAt = Date.now();
      assert.equal(decision.allowed, true);
      if (!decision.allowed) return;
      penalties.push(decision.penaltyMs);
      if (decision.penaltyMs > 0) {
        const next = await throttle.attempt({ account, address: fresh('addr') });
        // Refusal is promised only inside the penalty; a machine slow enough to outlive it proves nothing.
        if (Date.now() - decidedAt >= decision.penaltyMs) continue;
        assert.equal(next.allowed, false, `attempt ${i + 2} must wait`);
        if (next.allowed) return;
        assert.equal(next.subject, 'account');
        assert.ok(next.retryAfterMs > 0 && next.retryAfterMs <= decision.penaltyMs, `retry after ${next.retryAfterMs} within ${decision.penaltyMs}`);
      }
    }
    assert.deepEqual(penalties, [0, 0, 0, 40, 80, 160, 320, 320]);
    assert.deepEqual(
      penalties,
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => penaltyFor(n, policy.accountFreeAttempts, policy)),
    );
  });

  await t.test('a success forgets the account failures', async () => {
    const throttle = make(slowPolicy);
    const subjects = { account: fresh('acct'), address: fresh('addr') };
    for (let i = 0; i < 3; i++) assert.deepEqual(await throttle.attempt(subjects), { allowed: true, penaltyMs: 0 });
    const fourth = await throttle.attempt(subjects);
    assert.deepEqual(fourth, { allowed: true, penaltyMs: 30_000 });
    assert.equal((await throttle.attempt(subjects)).allowed, false, 'blocked right after the penalty');
    await throttle.succeeded(subjects);
    assert.deepEqual(await throttle.attempt(subjects), { allowed: true, penaltyMs: 0 }, 'the count starts over');
  });

  await t.test('an address guessing at many accounts is slowed down too', async () => {
    const throttle = make();
    const address = fresh('addr');
    const penalties: number[] = [];
    for (let i = 0; i < 7; i++) {
      const decision = await attemptWhenAllowed(throttle, { account: fresh('acct'), address });
      if (decision.allowed) penalties.push(decision.penaltyMs);
    }
    assert.deepEqual(penalties, [0, 0, 0, 0, 0, 0, 40]);
    // The refusal itself, with delays no loaded machine outlives between two calls.
    const slow = make(slowPolicy);
    const guesser = fresh('addr');
    for (let i = 0; i < 7; i++) await slow.attempt({ account: fresh('acct'), address: guesser });
    const blocked = await slow.attempt({ account: fresh('acct'), address: guesser });
    assert.equal(blocked.allowed, false);
    if (!blocked.allowed) assert.equal(blocked.subject, 'address');
  });

  await t.test('a success gives back only its own attempt to the address', async () => {
    const throttle = make();
    const address = fresh('addr');
    for (let i = 0; i < 5; i++) await throttle.attempt({ account: fresh('acct'), address });
    const mine = { account: fresh('acct'), address };
    assert.deepEqual(await throttle.attempt(mine), { allowed: true, penaltyMs: 0 });
    await throttle.succeeded(mine);
    // 5 failures remain on the address: the 6th and 7th attempts are the free one and the first penalised one.
    assert.deepEqual(await throttle.attempt({ account: fresh('acct'), address }), { allowed: true, penaltyMs: 0 });
    assert.deepEqual(await throttle.attempt({ account: fresh('acct'), address }), { allowed: true, penaltyMs: 40 });
  });

  await t.test('an attempt refused for the account does not charge the address', async () => {
    const throttle = make(slowPolicy);
    const account = fresh('acct');
    const address = fresh('addr');
    for (let i = 0; i < 4; i++) await throttle.attempt({ account, address: fresh('addr') });
    for (let i = 0; i < 10; i++) assert.equal((await throttle.attempt({ account, address })).allowed, false);
    for (let i = 0; i < 6; i++) assert.deepEqual(await throttle.attempt({ account: fresh('acct'), address }), { allowed: true, penaltyMs: 0 });
  });

  await t.test('the resolved account counts every spelling of it, and a success forgets it', async () => {
    const throttle = make(slowPolicy);
    const user = fresh('user');
    // As the login page does: the typed spelling and the client first, the resolved account once known.
    const spell = async () => {
      assert.equal((await throttle.attempt({ account: fresh('acct'), address: fresh('addr') })).allowed, true, 'each spelling is new');
      return throttle.attempt({ user });
    };
    for (let i = 0; i < 3; i++) assert.deepEqual(await spell(), { allowed: true, penaltyMs: 0 });
    assert.deepEqual(await spell(), { allowed: true, penaltyMs: 30_000 });
    const refused = await spell();
    assert.equal(refused.allowed, false);
    if (!refused.allowed) assert.equal(refused.subject, 'user');
    await throttle.succeeded({ user });
    assert.deepEqual(await spell(), { allowed: true, penaltyMs: 0 });
  });

  await t.test('an IPv6 /48 has its own limit across its /64s', async () => {
    const throttle = make(slowPolicy);
    const network = fresh('net');
    for (let i = 0; i < 10; i++)
      assert.deepEqual(await throttle.attempt({ account: fresh('acct'), address: fresh('addr'), network }), { allowed: true, penaltyMs: 0 });
    assert.deepEqual(await throttle.attempt({ account: fresh('acct'), address: fresh('addr'), network }), { allowed: true, penaltyMs: 30_000 });
    const refused = await throttle.attempt({ account: fresh('acct'), address: fresh('addr'), network });
    assert.equal(refused.allowed, false);
    if (!refused.allowed) assert.equal(refused.subject, 'network');
  });

  await t.test('a refund gives every subject back the attempt it was charged', async () => {
    const throttle = make(slowPolicy);
    const subjects = { account: fresh('acct'), address: fresh('addr'), network: fresh('net') };
    for (let i = 0; i < 3; i++) assert.deepEqual(await throttle.attempt(subjects), { allowed: true, penaltyMs: 0 });
    await throttle.refund(subjects);
    // Without the refund this fourth attempt would be the first penalised one.
    assert.deepEqual(await throttle.attempt(subjects), { allowed: true, penaltyMs: 0 });
    assert.deepEqual(await throttle.attempt(subjects), { allowed: true, penaltyMs: 30_000 });
  });
}

test('memory throttle', async (t) => {
  await contract(t, (p = policy) => createMemoryThrottle(p));
});

test('memory throttle stays within its bounds', async () => {
  const throttle = createMemoryThrottle(policy, { maxEntries: 10 });
  for (let i = 0; i < 100; i++) await throttle.attempt({ account: `a${i}`, address: `b${i}` });
  // The most recent subject is still counted, older ones were dropped to make room.
  const recent = { account: 'a99', address: 'b99' };
  for (let i = 0; i < 2; i++) await throttle.attempt(recent);
  assert.deepEqual(await throttle.attempt(recent), { allowed: true, penaltyMs: 40 });
});

test('redis throttle', async (t) => {
  const problem = await redisProblem();
  if (problem) return skipLoudly(t, `Redis at ${REDIS_TEST_URL}`, problem);
  const { redis, prefix, cleanup } = await createTestRedis();
  try {
    await contract(t, (p = policy) => createRedisThrottle(redis, p));
    await t.test('keys carry the prefix, hide the identifier and expire', async () => {
      const throttle = createRedisThrottle(redis, policy);
      await throttle.attempt({ account: accountKey('Someone@Example.org'), address: addressKey('203.0.113.9') });
      const raw = redis.duplicate({ keyPrefix: '' });
      try {
        const keys = await raw.keys(`${prefix}*`);
        assert.ok(keys.length > 0);
        assert.ok(
          keys.every((k) => !/someone|example/i.test(k)),
          keys.join(', '),
        );
        for (const key of keys) {
          const ttl = await raw.pttl(key);
          // -2: the key expired between KEYS and PTTL (earlier subtests' short windows): expiry too.
          if (ttl === -2) continue;
          assert.ok(ttl > 0 && ttl <= Math.max(policy.windowMs, slowPolicy.windowMs), `${key} expires (${ttl})`);
        }
      } finally {
        raw.disconnect();
      }
    });
  } finally {
    await cleanup();
  }
});

test('throttle subjects: one account however it is typed, one bucket per IPv6 /64', () => {
  assert.equal(accountKey('  Alice@Example.COM '), accountKey('alice@example.com'));
  assert.notEqual(accountKey('alice'), accountKey('alice2'));
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb::2'));
  assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey(undefined), 'unknown');
});

test('throttle subjects: accents folded as the legacy collation folds them, one /48 per IPv6 site', () => {
  for (const spelling of ['álice', 'alicé', 'ÁLICE', 'a\u0301lice']) assert.equal(accountKey(spelling), accountKey('alice'), spelling);
  assert.notEqual(accountKey('alice'), accountKey('alice@example.com'), 'an e-mail address is another spelling only the resolved account catches');
  assert.notEqual(userKey('idp:alice'), accountKey('idp:alice'));
  assert.equal(networkKey('2001:db8:1:2::1'), networkKey('2001:db8:1:ff00::7'));
  assert.equal(networkKey('2001:db8:1::1'), '2001:db8:1::/48');
  assert.notEqual(networkKey('2001:db8:1::1'), networkKey('2001:db8:2::1'));
  assert.equal(networkKey('192.0.2.7'), undefined);
  assert.equal(networkKey('::ffff:192.0.2.7'), undefined);
  assert.deepEqual(throttleSubjects('Alice', '192.0.2.7'), { account: accountKey('alice'), address: '192.0.2.7' });
  assert.deepEqual(throttleSubjects('alice', '2001:db8:1:2::1'), { account: accountKey('alice'), address: '2001:db8:1:2::/64', network: '2001:db8:1::/48' });
});
