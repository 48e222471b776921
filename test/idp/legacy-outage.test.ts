// A legacy outage is not a wrong password: with the legacy-adapter unreachable, or answering
// 503 because its database is gone, a user the idp does not know yet gets a "temporarily
// unavailable" page (503, Retry-After), the attempt does not count toward the login throttle,
// and the metrics say so. Users already in the idp sign in as usual.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadIdpConfig } from '../../idp/config.ts';
import { createSqliteDatabase } from '../../scripts/support/databases.ts';

import { signInOnPage, startLegacySite, STRICT_THROTTLE } from './sign-in-support.ts';
import { closeSharedResources, seedLegacyUser, withIdp, type TestIdp } from '../support/idp.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';
import { sample } from '../support/prometheus-text.ts';
import { internalErrorBody } from '../../contracts/internal-error.ts';

after(closeSharedResources);

const metricsOf = async (idp: TestIdp) => (await fetch(`${idp.opsUrl}/metrics`)).text();

async function expectUnavailable(idp: TestIdp, identifier: string, attempts: number) {
  for (let i = 0; i < attempts; i++) {
    const answer = await signInOnPage(idp.url, identifier, i % 2 ? PASSWORD : 'wrong password');
    assert.equal(answer.status, 503, `attempt ${i + 1}`);
    assert.ok(Number(answer.retryAfter) > 0, 'says when to retry');
    assert.match(answer.body, /temporarily unavailable/);
    assert.doesNotMatch(answer.body, /Incorrect login or password/);
  }
}

test('the legacy-adapter unreachable: 503 page, not counted as failures; idp users unaffected', async (t) => {
  // The harness points the idp at a port nobody listens on.
  await withIdp(
    t,
    { db: 'sqlite', redis: false },
    async (idp) => {
      const before = await metricsOf(idp);
      // More attempts than the throttle gives for free: none of them may count.
      await expectUnavailable(idp, 'nobody-migrated-yet', 4);
      const text = await metricsOf(idp);
      assert.equal(
        sample(text, 'idp_login_page_submissions_total', { result: 'unavailable' }) -
          sample(before, 'idp_login_page_submissions_total', { result: 'unavailable' }),
        4,
      );
      assert.equal(sample(text, 'idp_logins_total', { result: 'legacy_unavailable' }), 4);
      assert.equal(sample(text, 'idp_legacy_lookups_total', { result: 'unavailable' }), 4);
      assert.equal(sample(text, 'idp_login_page_submissions_total', { result: 'throttled' }), 0);
      await seedLegacyUser(idp, 'erin');
      assert.equal((await signInOnPage(idp.url, 'erin', PASSWORD)).signedIn, true, 'a user the idp has signs in during the outage');
    },
    { realPages: true, env: STRICT_THROTTLE },
  );
});

test('the legacy-adapter answering 503 (its database gone): 503 page; afterwards the count starts from zero', async (t) => {
  const legacyDb = await createSqliteDatabase();
  const legacy = await startLegacySite(legacyDb, ['gina']);
  try {
    await withIdp(
      t,
      { db: 'sqlite', redis: false },
      async (idp) => {
        // A real outage of the legacy database: the mapped table is not there.
        await legacyDb.knex.raw('alter table users rename to users_away');
        await expectUnavailable(idp, 'gina', 4);
        await legacyDb.knex.raw('alter table users_away rename to users');
        // Had the outage counted, these would be refused (two free attempts).
        assert.equal((await signInOnPage(idp.url, 'gina', 'wrong password')).status, 401);
        assert.equal((await signInOnPage(idp.url, 'gina', 'wrong password')).status, 401);
        assert.equal((await signInOnPage(idp.url, 'gina', PASSWORD)).signedIn, true);
      },
      { realPages: true, env: { ...legacy.env, ...STRICT_THROTTLE } },
    );
  } finally {
    await legacy.stop();
    await legacyDb.drop();
  }
});

test('login-check (shadow mode) answers 503 rather than a verdict while the legacy-adapter is down', async (t) => {
  await withIdp(t, { db: 'sqlite', redis: false }, async (idp) => {
    const res = await fetch(`${idp.url}/internal/v1/login-check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${loadIdpConfig(idp.env).IDP_INTERNAL_SECRET}` },
      body: JSON.stringify({ login: 'nobody-migrated-yet', password: PASSWORD }),
    });
    assert.equal(res.status, 503);
    assert.equal(internalErrorBody.parse(await res.json()).error, 'temporarily_unavailable');
  });
});
