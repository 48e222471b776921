// One behavioural contract for oidc-provider's storage, run unchanged against the in-process
// store and against Redis, so the embedded mode and production cannot drift apart.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConsumeConflictError,
  createMemoryAdapterFactory,
  createOidcAdapter,
  createRedisAdapterFactory,
  MemoryAdapterFullError,
  MemoryAdapterStore,
  type AdapterPayload,
  type OidcAdapterFactory,
} from '../../idp/oidc/adapters/index.ts';
import { createRedis } from '../../lib/redis.ts';
import { createTestRedis, redisProblem, REDIS_TEST_URL, skipLoudly } from '../../scripts/support/databases.ts';

interface Subject {
  adapters: OidcAdapterFactory;
  /** An independent handle on the same store, as a second replica would have. */
  otherReplica: OidcAdapterFactory;
}

const id = () => randomUUID();
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function expectConflict(promise: Promise<unknown>, reason: ConsumeConflictError['reason']): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConsumeConflictError, `expected ConsumeConflictError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

async function adapterContract(t: TestContext, { adapters, otherReplica }: Subject): Promise<void> {
  await t.test('upsert then find returns the payload; a missing id is undefined', async () => {
    const accessToken = adapters('AccessToken');
    const jti = id();
    const payload = { jti, kind: 'AccessToken', accountId: 'u1', scope: 'openid email', exp: nowSeconds() + 60 };
    await accessToken.upsert(jti, payload, 60);
    assert.deepEqual(await accessToken.find(jti), payload);
    assert.equal(await accessToken.find(id()), undefined);
    assert.equal(await adapters('Session').findByUid(id()), undefined);
    assert.equal(await adapters('DeviceCode').findByUserCode(id()), undefined);
  });

  await t.test('upsert replaces the payload and what find returns is a copy', async () => {
    const session = adapters('Session');
    const sid = id();
    await session.upsert(sid, { uid: 'u', accountId: 'a' }, 60);
    await session.upsert(sid, { uid: 'u', accountId: 'b' }, 60);
    const found = await session.find(sid);
    assert.equal(found?.accountId, 'b');
    if (found) found.accountId = 'mutated by caller';
    assert.equal((await session.find(sid))?.accountId, 'b');
  });

  await t.test('entries expire after expiresIn; entries without expiresIn do not', async () => {
    const code = adapters('AuthorizationCode');
    const session = adapters('Session');
    const client = adapters('Client');
    const [codeId, consumedId, sid, clientId] = [id(), id(), id(), `client-${id()}`];
    await code.upsert(codeId, { grantId: id() }, 1);
    await code.upsert(consumedId, { grantId: id() }, 1);
    await code.consume(consumedId);
    await session.upsert(sid, { uid: `uid-${sid}` }, 1);
    // Dynamically registered clients are saved with no expiresIn at all.
    await client.upsert(clientId, { client_id: clientId, redirect_uris: ['https://rp.example/cb'] }, undefined);
    assert.ok(await code.find(codeId), 'present before expiry');

    await sleep(1_200);
    assert.equal(await code.find(codeId), undefined);
    assert.equal(await code.find(consumedId), undefined, 'consuming keeps the expiry');
    assert.equal(await session.find(sid), undefined);
    assert.equal(await session.findByUid(`uid-${sid}`), undefined);
    assert.deepEqual(await client.find(clientId), { client_id: clientId, redirect_uris: ['https://rp.example/cb'] });
    await expectConflict(code.consume(codeId), 'not found');
  });

  await t.test('an expiresIn of zero or less stores nothing and drops what was there', async () => {
    const token = adapters('AccessToken');
    const [a, b] = [id(), id()];
    await token.upsert(a, { n: 1 }, 0);
    assert.equal(await token.find(a), undefined);
    await token.upsert(b, { n: 1 }, 60);
    await token.upsert(b, { n: 2 }, -5);
    assert.equal(await token.find(b), undefined);
  });

  await t.test('consume sets a consumed timestamp once and leaves the rest intact', async () => {
    const code = adapters('AuthorizationCode');
    const codeId = id();
    // Empty arrays and large numbers are what a careless re-encode inside Redis would damage.
    const payload = { grantId: id(), amr: [], claims: {}, scope: 'openid', authTime: 1_700_000_000_123, note: 'ünïcødé ✓' };
    await code.upsert(codeId, payload, 60);
    const before = nowSeconds();
    await code.consume(codeId);
    const found = await code.find(codeId);
    assert.ok(found);
    const { consumed, ...rest } = found;
    assert.deepEqual(rest, payload);
    assert.equal(typeof consumed, 'number');
    assert.ok((consumed as number) >= before - 1 && (consumed as number) <= nowSeconds() + 1, `consumed ${String(consumed)} is now`);

    await expectConflict(code.consume(codeId), 'already consumed');
    assert.equal((await code.find(codeId))?.consumed, consumed, 'a refused consume changes nothing');
    await expectConflict(code.consume(id()), 'not found');
  });

  await t.test('a payload saved with consumed: null is not treated as consumed', async () => {
    const refresh = adapters('RefreshToken');
    const tokenId = id();
    await refresh.upsert(tokenId, { grantId: id(), consumed: null }, 60);
    await refresh.consume(tokenId);
    assert.equal(typeof (await refresh.find(tokenId))?.consumed, 'number');
  });

  await t.test('racing consumes from two replicas: exactly one wins', async () => {
    // Authorization-code reuse detection depends on this: both replicas have already read the
    // code as unconsumed, and only one may go on to mint tokens.
    const mine = adapters('AuthorizationCode');
    const theirs = otherReplica('AuthorizationCode');
    for (let round = 0; round < 25; round += 1) {
      const codeId = id();
      await mine.upsert(codeId, { grantId: id(), round }, 60);
      const results = await Promise.allSettled([mine.consume(codeId), theirs.consume(codeId)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: exactly one consume succeeds`);
      assert.ok(lost[0]?.reason instanceof ConsumeConflictError);
      assert.equal(lost[0].reason.reason, 'already consumed');
      assert.equal(typeof (await theirs.find(codeId))?.consumed, 'number');
    }
  });

  await t.test('findByUid finds a Session; only the current uid and id answer', async () => {
    const session = adapters('Session');
    const [sid, rotated, uid] = [id(), id(), id()];
    const payload = { uid, accountId: 'u1', loginTs: nowSeconds(), authorizations: { svc: { sid: 's', grantId: 'g' } } };
    await session.upsert(sid, payload, 60);
    assert.deepEqual(await session.findByUid(uid), payload);
    assert.equal(await adapters('Interaction').findByUid(uid), undefined, 'the uid index is per model');
    assert.deepEqual(await otherReplica('Session').findByUid(uid), payload);

    // oidc-provider rotates a session's id by saving it under the new id and destroying the old.
    await session.upsert(rotated, { ...payload, accountId: 'u2' }, 60);
    await session.destroy(sid);
    assert.equal((await session.findByUid(uid))?.accountId, 'u2', 'destroying the old id keeps the new one findable');

    const newUid = id();
    await session.upsert(rotated, { ...payload, uid: newUid }, 60);
    assert.equal(await session.findByUid(uid), undefined, 'a superseded uid no longer answers');
    assert.equal((await session.findByUid(newUid))?.uid, newUid);
  });

  await t.test('findByUserCode finds a DeviceCode, consumed or not', async () => {
    const device = adapters('DeviceCode');
    const [codeId, userCode] = [id(), `ABCD-${id().slice(0, 4)}`];
    const payload = { grantId: id(), userCode, clientId: 'tv', params: { scope: 'openid' } };
    await device.upsert(codeId, payload, 60);
    assert.deepEqual(await device.findByUserCode(userCode), payload);
    assert.equal(await device.findByUserCode('WXYZ-0000'), undefined);
    await device.consume(codeId);
    assert.equal(typeof (await device.findByUserCode(userCode))?.consumed, 'number');
    await device.destroy(codeId);
    assert.equal(await device.findByUserCode(userCode), undefined);
  });

  await t.test('destroy removes the entry and its lookups; destroying a missing id is fine', async () => {
    const session = adapters('Session');
    const [sid, uid] = [id(), id()];
    await session.upsert(sid, { uid }, 60);
    await session.destroy(sid);
    assert.equal(await session.find(sid), undefined);
    assert.equal(await session.findByUid(uid), undefined);
    await session.destroy(sid);
    await session.destroy(id());
  });

  await t.test('revokeByGrantId removes every token and code of that grant and nothing else', async () => {
    const [grant, otherGrant] = [id(), id()];
    const saved: Array<[string, string, string]> = [];
    for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']) {
      for (const grantId of [grant, otherGrant]) {
        const entryId = id();
        await adapters(model).upsert(entryId, { grantId, kind: model }, model === 'RefreshToken' ? 3_600 : 60);
        saved.push([model, entryId, grantId]);
      }
    }
    // An Interaction names the grant it is building; finishing a revoke must not lose it.
    const interactionId = id();
    await adapters('Interaction').upsert(interactionId, { grantId: grant }, 60);
    const grantEntry = id();
    await adapters('Grant').upsert(grantEntry, { jti: grant }, 60);

    await otherReplica('AccessToken').revokeByGrantId(grant);

    for (const [model, entryId, grantId] of saved) {
      const found = await adapters(model).find(entryId);
      if (grantId === grant) assert.equal(found, undefined, `${model} of the revoked grant is gone`);
      else assert.equal(found?.grantId, otherGrant, `${model} of another grant stays`);
    }
    assert.ok(await adapters('Interaction').find(interactionId));
    assert.ok(await adapters('Grant').find(grantEntry), 'the Grant itself is destroyed separately by oidc-provider');

    // Revoking again, or a grant that never existed, is a no-op; later tokens are indexed afresh.
    await adapters('RefreshToken').revokeByGrantId(grant);
    await adapters('RefreshToken').revokeByGrantId(id());
    const late = id();
    await adapters('AccessToken').upsert(late, { grantId: grant }, 60);
    await adapters('RefreshToken').revokeByGrantId(grant);
    assert.equal(await adapters('AccessToken').find(late), undefined);
  });

  await t.test('destroying a token takes it out of its grant', async () => {
    const token = adapters('AccessToken');
    const [grant, kept, dropped] = [id(), id(), id()];
    await token.upsert(kept, { grantId: grant }, 60);
    await token.upsert(dropped, { grantId: grant }, 60);
    await token.destroy(dropped);
    await token.upsert(dropped, { grantId: id() }, 60);
    await token.revokeByGrantId(grant);
    assert.equal(await token.find(kept), undefined);
    assert.ok(await token.find(dropped), 'an entry re-saved under another grant is not revoked with the old one');
  });

  await t.test('models are isolated: the same id under two models is two entries', async () => {
    const shared = id();
    await adapters('AccessToken').upsert(shared, { kind: 'AccessToken' }, 60);
    await adapters('RefreshToken').upsert(shared, { kind: 'RefreshToken' }, 60);
    assert.equal((await adapters('AccessToken').find(shared))?.kind, 'AccessToken');
    assert.equal((await adapters('RefreshToken').find(shared))?.kind, 'RefreshToken');
    await adapters('AccessToken').destroy(shared);
    assert.equal(await adapters('AccessToken').find(shared), undefined);
    assert.equal((await adapters('RefreshToken').find(shared))?.kind, 'RefreshToken');
    assert.equal(await adapters('Session').find(shared), undefined);
  });

  await t.test('unicode and nested payloads survive the round trip', async () => {
    const session = adapters('Session');
    const sid = id();
    const payload: AdapterPayload = {
      uid: `ユーザー-${sid}`,
      accountId: 'Zoë Ådahl-Ñúñez',
      note: 'emoji 👩‍👩‍👧 rtl שלום combining é zero\u200bwidth line\u2028sep nul\u0000 quote"\\ brace}',
      empty: { list: [], object: {} },
      nested: { a: [1, 2.5, -3e-7, { b: [null, true, false, ''] }], deep: { deeper: { deepest: ['x'] } } },
      authorizations: { svc: { sid: 'abc', grantId: 'g', persistsLogout: false } },
      max: Number.MAX_SAFE_INTEGER,
    };
    await session.upsert(sid, payload, 60);
    assert.deepEqual(await session.find(sid), payload);
    assert.deepEqual(await session.findByUid(`ユーザー-${sid}`), payload);
  });
}

test('ConsumeConflictError reads as an OAuth error to oidc-provider', () => {
  const code = new ConsumeConflictError('AuthorizationCode', 'x', 'already consumed');
  assert.equal(code.message, 'invalid_grant', 'oidc-provider uses message as the error code');
  assert.equal(code.statusCode, 400);
  assert.equal(code.expose, true, 'exposed errors become 400s, others a generic 500');
  assert.match(code.error_description, /already used/);
  assert.equal(new ConsumeConflictError('PushedAuthorizationRequest', 'y', 'already consumed').message, 'invalid_request_uri');
});

test('memory adapter', async (t) => {
  const adapters = createOidcAdapter();
  await adapterContract(t, { adapters, otherReplica: adapters });
});

test('memory adapter: two factories over one store behave as one', async (t) => {
  const store = new MemoryAdapterStore();
  await adapterContract(t, {
    adapters: createMemoryAdapterFactory({ store }),
    otherReplica: createMemoryAdapterFactory({ store }),
  });
});

test('memory adapter: bounded, and never evicts a live entry to make room', async () => {
  const store = new MemoryAdapterStore({ maxEntries: 3, sweepIntervalMs: 60_000 });
  const token = createMemoryAdapterFactory({ store })('AccessToken');
  await token.upsert('short', { n: 0 }, 1);
  await token.upsert('a', { n: 1 }, 60);
  await token.upsert('b', { n: 2 }, 60);
  await assert.rejects(token.upsert('c', { n: 3 }, 60), MemoryAdapterFullError);
  await token.upsert('a', { n: 10 }, 60);
  assert.equal((await token.find('a'))?.n, 10, 'overwriting an entry needs no room');
  assert.equal((await token.find('short'))?.n, 0);

  await sleep(1_200);
  await token.upsert('c', { n: 3 }, 60);
  assert.equal(await token.find('short'), undefined);
  assert.deepEqual([(await token.find('a'))?.n, (await token.find('b'))?.n, (await token.find('c'))?.n], [10, 2, 3]);
  assert.equal(store.size, 3);
});

test('memory adapter: expired entries are swept, with their indexes', async () => {
  const store = new MemoryAdapterStore({ sweepIntervalMs: 0 });
  const adapters = createMemoryAdapterFactory({ store });
  await adapters('Session').upsert('s', { uid: 'u' }, 1);
  await adapters('AccessToken').upsert('t', { grantId: 'g' }, 1);
  await adapters('Client').upsert('c', { client_id: 'c' }, undefined);
  assert.equal(store.size, 3);
  await sleep(1_200);
  assert.equal(store.sweep(), 2);
  assert.equal(store.size, 1);
  await adapters('AccessToken').upsert('t2', { grantId: 'g' }, 60);
  await adapters('AccessToken').revokeByGrantId('g');
  assert.equal(store.size, 1);
});

test('memory adapter: rejects a nonsensical expiresIn instead of storing forever', async () => {
  const token = createMemoryAdapterFactory()('AccessToken');
  await assert.rejects(token.upsert('x', {}, Number.NaN), TypeError);
  assert.equal(await token.find('x'), undefined);
});

test('redis adapter', async (t) => {
  const problem = await redisProblem();
  if (problem) return skipLoudly(t, `Redis at ${REDIS_TEST_URL}`, problem);
  const { redis, prefix, cleanup } = await createTestRedis();
  // A second connection with the same key prefix stands in for another idp replica.
  const replica = createRedis(REDIS_TEST_URL, { keyPrefix: prefix });
  try {
    await adapterContract(t, {
      adapters: createOidcAdapter({ redis }),
      otherReplica: createRedisAdapterFactory(replica),
    });

    await t.test('keys are laid out under the connection prefix and expire with their entries', async () => {
      const raw = redis.duplicate({ keyPrefix: '' });
      try {
        const adapters = createRedisAdapterFactory(redis, { prefix: 'layout:' });
        await adapters('AccessToken').upsert('at', { grantId: 'g' }, 60);
        await adapters('RefreshToken').upsert('rt', { grantId: 'g' }, 3_600);
        await adapters('Session').upsert('s', { uid: 'u' }, 120);
        await adapters('Client').upsert('c', { client_id: 'c' }, undefined);

        assert.equal(await raw.get(`${prefix}layout:AccessToken:at`), '{"grantId":"g"}', 'one JSON string per entry');
        const ttl = await raw.pttl(`${prefix}layout:AccessToken:at`);
        assert.ok(ttl > 55_000 && ttl <= 60_000, `AccessToken ttl ${ttl}`);
        assert.equal(await raw.pttl(`${prefix}layout:Client:c`), -1, 'no expiresIn, no TTL');
        assert.equal(await raw.get(`${prefix}layout:uid:Session:u`), 's');
        assert.ok((await raw.pttl(`${prefix}layout:uid:Session:u`)) > 115_000);

        const members = await raw.zrange(`${prefix}layout:grant:g`, '0', '-1');
        assert.deepEqual(members.sort(), [`${prefix}layout:AccessToken:at`, `${prefix}layout:RefreshToken:rt`]);
        const grantTtl = await raw.pttl(`${prefix}layout:grant:g`);
        assert.ok(grantTtl > 3_590_000, `the grant index outlives its longest member (${grantTtl})`);

        await adapters('AccessToken').revokeByGrantId('g');
        assert.deepEqual((await raw.keys(`${prefix}layout:*`)).sort(), [
          `${prefix}layout:Client:c`,
          `${prefix}layout:Session:s`,
          `${prefix}layout:uid:Session:u`,
        ]);
      } finally {
        raw.disconnect();
      }
    });

    await t.test('a grantable entry that never expires keeps its grant index alive', async () => {
      const raw = redis.duplicate({ keyPrefix: '' });
      try {
        const adapters = createRedisAdapterFactory(redis, { prefix: 'forever:' });
        await adapters('AccessToken').upsert('short', { grantId: 'g' }, 60);
        await adapters('RefreshToken').upsert('forever', { grantId: 'g' }, undefined);
        assert.equal(await raw.pttl(`${prefix}forever:grant:g`), -1);
        await adapters('RefreshToken').revokeByGrantId('g');
        assert.equal(await adapters('RefreshToken').find('forever'), undefined);
      } finally {
        raw.disconnect();
      }
    });
  } finally {
    replica.disconnect();
    await cleanup();
  }
  const leftover = createRedis(REDIS_TEST_URL);
  try {
    assert.deepEqual(await leftover.keys(`${prefix}*`), [], 'the run leaves no keys behind');
  } finally {
    leftover.disconnect();
  }
});
