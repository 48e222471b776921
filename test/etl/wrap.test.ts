// Issue 15: no weak hash left in the idp's store. The batch migration wraps cheap legacy hashes
// in PBKDF2 as it copies them, and `wrap:hashes` wraps the ones copied before; on the embedded
// default (SQLite) and on MariaDB.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { countWeakHashes, loadWrapCheckpoint, type WrapPassReport } from '../../idp/import/wrap-pass.ts';
import { runMigration } from '../../legacy-adapter/etl/index.ts';
import { legacyFingerprint } from '../../legacy-adapter/directory/fingerprint.ts';
import { pbkdf2Scheme, WEAK_SCHEMES, WRAPPED_SCHEME } from '../../lib/passwords/index.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import { vector } from '../../scripts/support/legacy-hashes.ts';
import { wrongPassword } from '../passwords/support/fixtures.ts';
import {
  createIdpStore,
  FINGERPRINT_KEY,
  generateUsers,
  insertLegacyUsers,
  loginServiceFor,
  mapping,
  spawnEtlCommand,
  TEST_WRAP_ITERATIONS,
} from './support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';

const isPbkdf2 = (hash: string | null | undefined) => typeof hash === 'string' && pbkdf2Scheme.identify(hash);
const md5 = (text: string) => createHash('md5').update(text).digest('hex');

// PHP-made hashes of every cheap scheme the sample monolith's mapping can read, and two strong ones.
const WEAK_FIXTURES = ['md5', 'sha1', 'md5(salt.password)', 'sha1(salt.password)', 'crypt-des', 'crypt-md5', 'phpass-portable-P', 'phpass-portable-H'];
const STRONG_FIXTURES = ['bcrypt-2y', 'crypt-sha512'];

test('the migration wraps cheap legacy hashes at import: right password only, the login upgrades them, a re-run and a delta pass keep them unless the legacy password changed', async (t) => {
  await forEachDatabase(t, async (_t, legacy) => {
    const idp = await createIdpStore(legacy.kind);
    try {
      await createLegacyPhpSchema(legacy);
      const fixtures = [...WEAK_FIXTURES, ...STRONG_FIXTURES].map((scheme, i) => ({ ...vector(scheme), login: `user-${i}` }));
      await legacy.knex('users').insert(
        fixtures.map((f) => ({
          user_login: f.login,
          user_email: `${f.login}@example.test`,
          user_pass: f.hash,
          user_salt: f.salt,
          display_name: f.login,
          updated_at: '2024-01-01 00:00:00',
        })),
      );

      const first = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: TEST_WRAP_ITERATIONS });
      assert.deepEqual([first.counts.inserted, first.counts.wrapped], [fixtures.length, WEAK_FIXTURES.length]);
      const { login, users } = loginServiceFor(idp.knex);
      const stored = async (login: string) => (await users.findByLogin(login)) ?? assert.fail(login);
      const copied = new Map<string, string | null>();
      for (const f of fixtures) {
        const user = await stored(f.login);
        const weak = WEAK_FIXTURES.includes(f.scheme);
        assert.equal(user.passwordScheme === WRAPPED_SCHEME, weak, f.scheme);
        assert.ok(user.passwordHash?.startsWith(weak ? `$${WRAPPED_SCHEME}$i=${TEST_WRAP_ITERATIONS},` : f.hash), f.scheme);
        assert.ok(!weak || !user.passwordHash?.includes(f.hash.slice(-20)), `${f.scheme}: no legacy digest in the store`);
        // The fingerprint is of the legacy hash, as before: the delta pass compares with it.
        assert.equal(user.legacyFingerprint, legacyFingerprint(FINGERPRINT_KEY, f.hash, f.salt));
        copied.set(f.login, user.passwordHash);
      }
      assert.deepEqual(await countWeakHashes(idp.knex), {}, 'no weak hash in the store');

      // A full re-run and a delta pass over every row: the wrapped hashes stand, exactly.
      const again = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: TEST_WRAP_ITERATIONS });
      assert.deepEqual([again.counts.unchanged, again.counts.updated, again.counts.wrapped], [fixtures.length, 0, 0]);
      const delta = await runMigration({
        legacy: legacy.knex,
        ...idp.target,
        mapping,
        fingerprintKey: FINGERPRINT_KEY,
        wrapIterations: TEST_WRAP_ITERATIONS,
        changedSince: new Date('2024-01-01T00:00:00Z'),
      });
      assert.deepEqual([delta.mode, delta.counts.unchanged, delta.counts.updated], ['delta', fixtures.length, 0]);
      for (const f of fixtures) assert.equal((await stored(f.login)).passwordHash, copied.get(f.login), f.scheme);

      // The legacy site changes a password the idp holds wrapped: the delta pass replaces it.
      const changed = fixtures.find((f) => f.scheme === 'md5(salt.password)') ?? assert.fail();
      const since = new Date(Date.now() - 1000);
      await legacy
        .knex('users')
        .where('user_login', changed.login)
        .update({ user_pass: md5(`${changed.salt}new-pw`), updated_at: new Date().toISOString().slice(0, 19).replace('T', ' ') });
      const changeRun = await runMigration({
        legacy: legacy.knex,
        ...idp.target,
        mapping,
        fingerprintKey: FINGERPRINT_KEY,
        wrapIterations: TEST_WRAP_ITERATIONS,
        changedSince: since,
      });
      assert.deepEqual([changeRun.counts.read, changeRun.counts.updated, changeRun.counts.wrapped], [1, 1, 1]);
      const rewrapped = await stored(changed.login);
      assert.equal(rewrapped.passwordScheme, WRAPPED_SCHEME);
      assert.notEqual(rewrapped.passwordHash, copied.get(changed.login));
      assert.equal((await login.login(changed.login, changed.password)).ok, false, 'the old legacy password is gone');
      assert.equal((await login.login(changed.login, 'new-pw')).ok, true, 'the new legacy password works');

      // Every user signs in with the PHP-made password, never a wrong one, and is upgraded to plain PBKDF2.
      for (const f of fixtures.filter((x) => x !== changed)) {
        assert.equal((await login.login(f.login, wrongPassword(f.password))).ok, false, `${f.scheme}: wrong password`);
        assert.equal((await login.login(f.login, f.password)).ok, true, `${f.scheme}: logs in`);
        const after = await stored(f.login);
        assert.ok(isPbkdf2(after.passwordHash), `${f.scheme}: upgraded at login`);
        assert.equal(after.passwordScheme, pbkdf2Scheme.name);
      }
      const last = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: TEST_WRAP_ITERATIONS });
      assert.deepEqual([last.counts.alreadyUpgraded, last.counts.updated], [fixtures.length, 0], 'never downgraded');
    } finally {
      await idp.drop();
    }
  });
});

test('wrap:hashes wraps the rows copied before, resumes after SIGKILL without wrapping any twice, and leaves no weak hash', async (t) => {
  await forEachDatabase(t, async (_t, legacy) => {
    const idp = await createIdpStore(legacy.kind);
    try {
      await createLegacyPhpSchema(legacy);
      const generated = generateUsers(3_000);
      await insertLegacyUsers(legacy.knex, generated);
      // Copied as an older version did: unwrapped.
      const copy = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: 0 });
      assert.equal(copy.counts.wrapped, 0);
      const weakBefore = Object.values(await countWeakHashes(idp.knex)).reduce((a, b) => a + b, 0);
      assert.ok(weakBefore > 2_500, `most rows are weak (${weakBefore})`);

      const env = { DATABASE_URL: idp.url, LEGACY_WRAP_ITERATIONS: String(TEST_WRAP_ITERATIONS) };
      const first = spawnEtlCommand('idp/cli/wrap-hashes.ts', ['--batch-size', '25', '--json'], env);
      let exited = false;
      void first.done.then(() => (exited = true));
      for (;;) {
        const checkpoint = await loadWrapCheckpoint(idp.knex).catch(() => undefined);
        if (checkpoint && checkpoint.lastId !== null && checkpoint.counts.read >= 500) break;
        if (exited) assert.fail(`wrap:hashes ended before it could be killed:\n${(await first.done).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      first.child.kill('SIGKILL');
      assert.equal((await first.done).code, 'SIGKILL');
      const midway = Object.values(await countWeakHashes(idp.knex)).reduce((a, b) => a + b, 0);
      assert.ok(midway > 0 && midway < weakBefore, `killed midway (${midway} of ${weakBefore} left)`);

      const second = await spawnEtlCommand('idp/cli/wrap-hashes.ts', ['--json'], env).done;
      assert.equal(second.code, 0, second.stderr);
      const report = JSON.parse(second.stdout) as WrapPassReport;
      assert.equal(report.complete, true);
      assert.notEqual(report.resumedAfter, null, 'resumed from the checkpoint');
      assert.equal(report.counts.read, copy.counts.inserted, 'every user read once over both runs');
      assert.deepEqual([report.counts.wrapped, report.counts.skipped], [weakBefore, 0], 'every weak hash wrapped exactly once');
      assert.deepEqual(report.weakRemaining, {});
      assert.ok(report.thisRun.read < copy.counts.inserted, 'the second run did not start over');

      // One user of each scheme signs in with the password PHP hashed, and is upgraded.
      const { login, users } = loginServiceFor(idp.knex);
      const bySchemeActive = new Map<string, (typeof generated)[number]>();
      for (const u of generated) if (!u.deadLetter && u.row.is_active === 1 && !bySchemeActive.has(u.scheme)) bySchemeActive.set(u.scheme, u);
      for (const [scheme, u] of bySchemeActive) {
        const user = (await users.findByLegacyId(String(u.row.user_id))) ?? assert.fail(scheme);
        assert.equal(user.passwordScheme === WRAPPED_SCHEME, WEAK_SCHEMES.includes(scheme), scheme);
        assert.equal((await login.login(u.row.user_login, `${u.password}!`)).ok, false, `${scheme}: wrong password`);
        assert.equal((await login.login(u.row.user_login, u.password)).ok, true, `${scheme}: logs in`);
        assert.ok(isPbkdf2((await users.findByLegacyId(String(u.row.user_id)))?.passwordHash), `${scheme}: upgraded`);
      }

      // A migration pass after the wrap keeps every wrapped hash (the fingerprints still match).
      const after = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: TEST_WRAP_ITERATIONS });
      assert.deepEqual([after.counts.updated, after.counts.wrapped], [0, 0]);
      const count = await spawnEtlCommand('idp/cli/wrap-hashes.ts', ['--count', '--json'], env).done;
      assert.deepEqual([count.code, JSON.parse(count.stdout)], [0, { weakRemaining: {} }]);
    } finally {
      await idp.drop();
    }
  });
});
