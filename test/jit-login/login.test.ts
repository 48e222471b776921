import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { RunningService } from '../../lib/service.ts';
import { hashPassword, verifyPassword } from '../../lib/passwords/index.ts';
import type { UpgradeHooks } from '../../idp/users/types.ts';
import { forEachDatabase, type TestDatabase } from '../../scripts/support/databases.ts';
import { createLoginRig, insertLegacyRows, legacyIdOf, TEST_ITERATIONS, type LoginRig } from './support.ts';
import { PASSWORD, vector } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow, schemeUsers } from '../../scripts/support/legacy-users.ts';
import { createDatabaseOfKind } from '../../scripts/support/databases.ts';
import { startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { sample } from '../support/prometheus-text.ts';
import { internalErrorBody } from '../../contracts/internal-error.ts';

interface Ctx {
  legacyDb: TestDatabase;
  idpDb: TestDatabase;
  adapter: RunningService;
  rig: LoginRig;
}

const EXTRA_LEGACY_ROWS = [
  legacyRow('inactive_user', vector('bcrypt-2y').hash, { is_active: 0 }),
  legacyRow('garbage', 'this is not a hash'),
  legacyRow('unknown_prefix', '$9$abcdefghijklmnopqrstuv'),
  legacyRow('empty_hash', ''),
];

/** Per engine: the sample monolith's table with every scheme, a legacy-adapter on it, an idp store. */
async function withLogin(t: TestContext, body: (ctx: Ctx) => Promise<void>, options: { iterations?: number; hooks?: UpgradeHooks } = {}): Promise<void> {
  await forEachDatabase(t, async (_t, legacyDb) => {
    await createLegacyPhpSchema(legacyDb);
    await insertLegacyRows(legacyDb.knex, [...schemeUsers, ...EXTRA_LEGACY_ROWS]);
    const idpDb = await createDatabaseOfKind(legacyDb.kind);
    const adapter = await startAdapter(legacyDb.url);
    try {
      await body({ legacyDb, idpDb, adapter, rig: await createLoginRig(idpDb, adapter.url, options) });
    } finally {
      await adapter.stop();
      await idpDb.drop();
    }
  });
}

const PHC = (iterations: number) => new RegExp(`^\\$pbkdf2-sha256\\$i=${iterations},l=32\\$`);

test('legacy users of every scheme log in, leave a PBKDF2 hash, and log in again with the legacy side gone', async (t) => {
  await withLogin(t, async ({ legacyDb, idpDb, adapter, rig }) => {
    for (const row of schemeUsers) {
      const outcome = await rig.login.login(row.user_login, PASSWORD);
      assert.ok(outcome.ok, row.display_name);
      assert.equal(outcome.user.username, row.user_login);
      assert.equal(outcome.user.name, row.display_name);
      const stored = await rig.users.findById(outcome.user.id);
      assert.match(stored?.passwordHash ?? '', PHC(TEST_ITERATIONS), row.display_name);
      assert.equal(stored?.passwordScheme, 'pbkdf2-sha256');
      assert.equal(stored?.legacyId, await legacyIdOf(legacyDb.knex, row.user_login));
      assert.match(stored?.legacyFingerprint ?? '', /^v1\.[A-Za-z0-9_-]{43}$/);
      assert.equal((await verifyPassword(PASSWORD, { hash: stored?.passwordHash })).ok, true);
      assert.deepEqual((await rig.users.findByLogin(row.user_email))?.id, outcome.user.id);
    }
    assert.equal(
      await idpDb
        .knex('users')
        .count({ n: '*' })
        .first()
        .then((r) => Number(r?.n)),
      schemeUsers.length,
    );

    await adapter.stop();
    for (const row of schemeUsers) {
      assert.ok((await rig.login.login(row.user_login, PASSWORD)).ok, `${row.display_name} without the adapter`);
      assert.ok((await rig.login.login(row.user_email.toUpperCase(), PASSWORD)).ok, `${row.display_name} by e-mail`);
      assert.deepEqual(await rig.login.login(row.user_login, `X${PASSWORD}`), { ok: false });
    }
    // Unknown to the idp and nobody to ask: undecided (unavailable), not a wrong password; counted as such.
    assert.deepEqual(await rig.login.login('u_never_seen', PASSWORD), { ok: false, unavailable: true });
    const metrics = await rig.metricsText();
    assert.equal(sample(metrics, 'idp_logins_total', { result: 'legacy_unavailable' }), 1);
    assert.equal(sample(metrics, 'idp_legacy_lookups_total', { result: 'unavailable' }), 1);
    assert.equal(sample(metrics, 'idp_legacy_lookups_total', { result: 'found' }), schemeUsers.length);
    assert.equal(sample(metrics, 'idp_password_upgrades_total', { from_scheme: 'crypt-des', result: 'imported' }), 1);
    assert.equal(sample(metrics, 'idp_password_upgrades_total', { result: 'imported' }), schemeUsers.length);
    assert.equal(sample(metrics, 'idp_logins_total', { result: 'success', source: 'idp', scheme: 'pbkdf2-sha256' }), schemeUsers.length * 2);
    assert.equal(sample(metrics, 'idp_users_by_password_scheme', { scheme: 'pbkdf2-sha256' }), schemeUsers.length);
    assert.ok(sample(metrics, 'idp_password_verify_duration_seconds_count', { scheme: 'pbkdf2-sha256' }) >= schemeUsers.length * 3);
  });
});

test('with the legacy database unreachable the adapter answers 503: unknown users fail, imported users still log in', async (t) => {
  await withLogin(t, async ({ idpDb }) => {
    const alice = schemeUsers[10];
    assert.ok(alice);
    const down = await startAdapter('mysql://root@127.0.0.1:1/nowhere');
    try {
      const rig = await createLoginRig(idpDb, down.url);
      const answer = await fetch(`${down.url}/internal/v1/authenticate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer test-legacy-adapter-secret-0123456789abcdef' },
        body: JSON.stringify({ login: alice.user_login, password: PASSWORD }),
      });
      assert.equal(answer.status, 503);
      assert.equal(internalErrorBody.parse(await answer.json()).error, 'legacy_unavailable');
      assert.deepEqual(await rig.login.login(alice.user_login, PASSWORD), { ok: false, unavailable: true });
      // Imported earlier (through a working adapter), the user no longer needs the legacy side.
      const { user } = await rig.users.insertFromLegacy({
        legacyId: 'imported-1',
        username: 'imported',
        email: null,
        name: null,
        passwordHash: await hashPassword(PASSWORD, { iterations: TEST_ITERATIONS, keyLength: 32, saltLength: 16 }),
        passwordScheme: 'pbkdf2-sha256',
        legacyFingerprint: null,
      });
      const outcome = await rig.login.login('imported', PASSWORD);
      assert.ok(outcome.ok);
      assert.equal(outcome.user.id, user.id);
    } finally {
      await down.stop();
    }
  });
});

test('twenty concurrent logins of one legacy user all succeed and leave one row with one upgraded hash', async (t) => {
  await withLogin(t, async ({ idpDb, rig }) => {
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => rig.login.login('u_phpassP', PASSWORD)));
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(new Set(outcomes.map((o) => (o.ok ? o.user.id : ''))).size, 1);
    const rows = await idpDb.knex('users').where('username_normalized', 'u_phpassp');
    assert.equal(rows.length, 1);
    assert.match(String(rows[0]?.password_hash), PHC(TEST_ITERATIONS));
    assert.ok((await rig.login.login('u_phpassP', PASSWORD)).ok);
  });
});

test('unknown user, wrong password, inactive account and unreadable hashes get the same answer, and are counted', async (t) => {
  await withLogin(t, async ({ idpDb, rig }) => {
    // Rows in the idp store too: one inactive, one with a garbage hash, one with none, one `$9$`.
    const { user: inactive } = await rig.users.insertFromLegacy({
      legacyId: 'x1',
      username: 'idp_inactive',
      email: null,
      name: null,
      passwordHash: vector('md5').hash,
      passwordScheme: 'md5',
      passwordCandidates: ['md5'],
      legacyFingerprint: null,
    });
    await idpDb.knex('users').where('id', inactive.id).update({ active: false });
    await rig.users.insertFromLegacy({
      legacyId: 'x2',
      username: 'idp_garbage',
      email: null,
      name: null,
      passwordHash: 'zzz garbage',
      passwordScheme: 'unknown',
      legacyFingerprint: null,
    });
    const { user: nullHash } = await rig.users.insertFromLegacy({
      legacyId: 'x3',
      username: 'idp_null',
      email: null,
      name: null,
      passwordHash: 'placeholder',
      passwordScheme: 'unknown',
      legacyFingerprint: null,
    });
    await idpDb.knex('users').where('id', nullHash.id).update({ password_hash: null });
    await rig.users.insertFromLegacy({
      legacyId: 'x4',
      username: 'idp_nine',
      email: null,
      name: null,
      passwordHash: '$9$abcdefghijklmnop',
      passwordScheme: 'unknown',
      legacyFingerprint: null,
    });

    const attempts: [string, string][] = [
      ['nobody_at_all', PASSWORD],
      ['u_bcrypt2y', 'wrong password'],
      ['inactive_user', PASSWORD],
      ['garbage', PASSWORD],
      ['unknown_prefix', PASSWORD],
      ['empty_hash', PASSWORD],
      ['u_md5', ''],
      ['', PASSWORD],
      ['idp_inactive', PASSWORD],
      ['idp_garbage', PASSWORD],
      ['idp_null', PASSWORD],
      ['idp_nine', PASSWORD],
      ['u_md5', 'x'.repeat(5000)],
    ];
    for (const [login, password] of attempts) {
      assert.deepEqual(await rig.login.login(login, password), { ok: false }, `${login} / ${password.slice(0, 10)}`);
    }
    // Nothing was imported by the failures, and everyone else still logs in.
    assert.equal(
      await idpDb
        .knex('users')
        .count({ n: '*' })
        .first()
        .then((r) => Number(r?.n)),
      4,
    );
    assert.ok((await rig.login.login('u_md5', PASSWORD)).ok);
    const metrics = await rig.metricsText();
    assert.equal(sample(metrics, 'idp_logins_total', { result: 'unknown_user' }), 6, 'legacy side: unknown, wrong, inactive and unreadable all look alike');
    assert.equal(sample(metrics, 'idp_logins_total', { result: 'inactive', source: 'idp' }), 1);
    assert.equal(sample(metrics, 'idp_logins_total', { result: 'unreadable_hash', source: 'idp' }), 3);
    assert.equal(sample(metrics, 'idp_logins_total', { result: 'invalid_input' }), 3);
    assert.equal(sample(metrics, 'idp_unreadable_hashes_total', { code: 'unrecognised' }), 2);
    assert.equal(sample(metrics, 'idp_unreadable_hashes_total', { code: 'empty' }), 1);
  });
});

test('hashes the ETL copied are verified from the idp store and upgraded with a compare-and-set; weak PBKDF2 is rehashed', async (t) => {
  await withLogin(t, async ({ rig }) => {
    const salted = vector('md5(salt.password)');
    const etl = await rig.users.insertFromLegacy({
      legacyId: 'etl-1',
      username: 'etl_user',
      email: 'etl@example.com',
      name: null,
      passwordHash: salted.hash.toUpperCase(),
      passwordSalt: salted.salt,
      passwordScheme: 'md5(salt.password)',
      passwordCandidates: ['md5(salt.password)', 'sha1(salt.password)'],
      passwordEncodings: ['utf8'],
      legacyFingerprint: 'v1.x',
    });
    const weak = await rig.users.insertFromLegacy({
      legacyId: 'weak-1',
      username: 'weak_user',
      email: null,
      name: null,
      passwordHash: await hashPassword(PASSWORD, { iterations: 500, keyLength: 32, saltLength: 16 }),
      passwordScheme: 'pbkdf2-sha256',
      legacyFingerprint: null,
    });
    // The md5 row is a weak hash; the PBKDF2 one, however low its count, is not.
    assert.equal(sample(await rig.metricsText(), 'idp_users_weak_password_hashes', {}), 1);
    const dry = await rig.login.login('etl_user', PASSWORD, { dryRun: true });
    assert.ok(dry.ok);
    assert.equal((await rig.users.findById(etl.user.id))?.passwordHash, salted.hash.toUpperCase(), 'a dry run writes nothing');

    assert.ok((await rig.login.login('etl@example.com', PASSWORD)).ok);
    const upgraded = await rig.users.findById(etl.user.id);
    assert.match(upgraded?.passwordHash ?? '', PHC(TEST_ITERATIONS));
    assert.deepEqual([upgraded?.passwordSalt, upgraded?.passwordCandidates, upgraded?.legacyFingerprint], [null, [], 'v1.x']);
    assert.ok((await rig.login.login('etl_user', PASSWORD)).ok);

    assert.ok((await rig.login.login('weak_user', PASSWORD)).ok);
    assert.match((await rig.users.findById(weak.user.id))?.passwordHash ?? '', PHC(TEST_ITERATIONS));
    const metrics = await rig.metricsText();
    assert.equal(sample(metrics, 'idp_password_upgrades_total', { from_scheme: 'md5(salt.password)', result: 'upgraded' }), 1);
    assert.equal(sample(metrics, 'idp_password_upgrades_total', { from_scheme: 'pbkdf2-sha256', result: 'upgraded' }), 1);
    assert.equal(sample(metrics, 'idp_logins_total', { dry_run: 'true', result: 'success' }), 1);
    assert.equal(sample(metrics, 'idp_users_weak_password_hashes', {}), 0, 'upgraded at login');
  });
});

test('a dry run only verifies: no import, no upgrade, same answers', async (t) => {
  await withLogin(t, async ({ idpDb, rig }) => {
    assert.equal((await rig.login.login('u_argon2id', PASSWORD, { dryRun: true })).ok, true);
    assert.deepEqual(await rig.login.login('u_argon2id', 'nope', { dryRun: true }), { ok: false });
    assert.deepEqual(await rig.login.login('inactive_user', PASSWORD, { dryRun: true }), { ok: false });
    assert.equal(
      await idpDb
        .knex('users')
        .count({ n: '*' })
        .first()
        .then((r) => Number(r?.n)),
      0,
    );
  });
});

for (const path of ['import', 'upgrade'] as const) {
  test(`a crash at any step of the ${path} never leaves the user unable to log in`, async (t) => {
    for (const step of ['afterVerify', 'afterWrite', 'beforeCommit'] as const) {
      let armed = true;
      const hooks: UpgradeHooks = {
        [step]: (at: string) => {
          if (armed && at === path) {
            armed = false;
            throw new Error(`injected crash ${step}`);
          }
        },
      };
      await t.test(step, async (st) => {
        await withLogin(
          st,
          async ({ idpDb, adapter, rig }) => {
            armed = true;
            let userId: string | undefined;
            if (path === 'upgrade') {
              const v = vector('sha1(salt.password)');
              ({
                user: { id: userId },
              } = await rig.users.insertFromLegacy({
                legacyId: 'c-1',
                username: 'crash_user',
                email: null,
                name: null,
                passwordHash: v.hash,
                passwordSalt: v.salt,
                passwordScheme: 'sha1(salt.password)',
                passwordCandidates: ['sha1(salt.password)'],
                legacyFingerprint: null,
              }));
              // The password was proven, so the login succeeds; the upgrade is simply not done.
              assert.ok((await rig.login.login('crash_user', PASSWORD)).ok);
              assert.equal((await rig.users.findById(userId))?.passwordHash, v.hash, 'old hash intact after the crash');
            } else {
              await assert.rejects(rig.login.login('u_md5crypt', PASSWORD), /injected crash/);
              assert.equal(
                await idpDb
                  .knex('users')
                  .count({ n: '*' })
                  .first()
                  .then((r) => Number(r?.n)),
                0,
                'nothing half-imported',
              );
            }
            assert.equal(armed, false, 'the hook fired');
            // After the "restart": a fresh service on the same databases.
            const again = await createLoginRig(idpDb, adapter.url);
            const login = path === 'upgrade' ? 'crash_user' : 'u_md5crypt';
            const outcome = await again.login.login(login, PASSWORD);
            assert.ok(outcome.ok, `${login} logs in after a crash ${step}`);
            assert.match((await again.users.findById(outcome.user.id))?.passwordHash ?? '', PHC(TEST_ITERATIONS));
            assert.ok((await again.login.login(login, PASSWORD)).ok);
          },
          { hooks },
        );
      });
    }
  });
}

test('the production default, 600,000 PBKDF2 iterations, end to end', async (t) => {
  await withLogin(
    t,
    async ({ rig }) => {
      const first = await rig.login.login('u_bcrypt2y', PASSWORD);
      assert.ok(first.ok);
      assert.match((await rig.users.findById(first.user.id))?.passwordHash ?? '', PHC(600_000));
      assert.ok((await rig.login.login('u_bcrypt2y', PASSWORD)).ok);
      assert.deepEqual(await rig.login.login('u_bcrypt2y', 'wrong'), { ok: false });
    },
    { iterations: (await import('../../idp/config.ts')).loadIdpConfig({}).PBKDF2_ITERATIONS },
  );
});
