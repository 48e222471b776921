// The failed-login count follows the account, not the spelling: the legacy login accepts the
// username or the e-mail address, case- and accent-insensitively (utf8mb4_unicode_ci), so every
// spelling of one account shares one count, for users already in the idp and for users still
// only in the legacy database. Real idp pages, real MariaDB, real legacy-adapter.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createMariaDbDatabase, mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { signInOnPage, startLegacySite, STRICT_THROTTLE } from './sign-in-support.ts';
import { closeSharedResources, seedLegacyUser, withIdp } from '../support/idp.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';

after(closeSharedResources);

test('every spelling of one account shares its failed-login count (MariaDB, idp store and legacy-only users)', async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const legacyDb = await createMariaDbDatabase('idm_legacy');
  const legacy = await startLegacySite(legacyDb, ['bruno']);
  try {
    await withIdp(
      t,
      { db: 'mysql', redis: true },
      async (idp) => {
        await t.test('a user in the idp store (username, e-mail address, accents)', async () => {
          await seedLegacyUser(idp, 'alice');
          const statuses: number[] = [];
          // Each typed spelling stays within its own two free attempts (accents fold into `alice`).
          for (const spelling of ['alice', 'alice@example.test', 'álice', 'ALICE@EXAMPLE.TEST'])
            statuses.push((await signInOnPage(idp.url, spelling, 'wrong password')).status);
          assert.deepEqual(statuses, [401, 401, 401, 429]);
          const right = await signInOnPage(idp.url, 'Alice@Example.test', PASSWORD);
          assert.equal(right.status, 429, 'the right password under yet another spelling is refused too');
          assert.equal(right.signedIn, false);
        });

        await t.test('a user only the legacy database knows, resolved by the adapter', async () => {
          const statuses: number[] = [];
          for (const spelling of ['bruno', 'bruno@example.com', 'brúno', 'BRUNO@example.com'])
            statuses.push((await signInOnPage(idp.url, spelling, 'wrong password')).status);
          assert.deepEqual(statuses, [401, 401, 401, 429]);
          assert.equal((await signInOnPage(idp.url, 'Bruno@Example.com', PASSWORD)).status, 429);
        });

        await t.test('an account not over its limit still signs in, and its count starts over', async () => {
          await seedLegacyUser(idp, 'carla');
          assert.equal((await signInOnPage(idp.url, 'carla@example.test', 'wrong password')).status, 401);
          assert.equal((await signInOnPage(idp.url, 'carla', PASSWORD)).signedIn, true);
          for (const spelling of ['carla@example.test', 'CARLA']) assert.equal((await signInOnPage(idp.url, spelling, 'wrong password')).status, 401, spelling);
        });
      },
      { realPages: true, env: { ...legacy.env, ...STRICT_THROTTLE } },
    );
  } finally {
    await legacy.stop();
    await legacyDb.drop();
  }
});
