import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { hashSync } from '@node-rs/bcrypt';
import { startLegacyAdapter } from '../../legacy-adapter/app.ts';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';
import { runMigration, type MigrationReport } from '../../legacy-adapter/etl/index.ts';
import { legacyFingerprint } from '../../legacy-adapter/directory/fingerprint.ts';
import { pbkdf2Scheme } from '../../lib/passwords/index.ts';
import { mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { ADAPTER_SECRET, createIdpStore, FINGERPRINT_KEY, loginServiceFor, mapping, MAPPING_FILE, spawnMigrate } from './support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { createDatabaseOfKind } from '../../scripts/support/databases.ts';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const isPbkdf2 = (hash: string | null | undefined) => typeof hash === 'string' && pbkdf2Scheme.identify(hash);

test('never downgrade: a user upgraded just in time keeps PBKDF2; a password changed on the legacy side since wins; all of them log in', async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const legacy = await createDatabaseOfKind('mysql', 'idm_etl_legacy');
  const idp = await createIdpStore();
  const adapter = await startLegacyAdapter(
    loadLegacyAdapterConfig({
      LOG_LEVEL: 'silent',
      LEGACY_ADAPTER_PORT: '0',
      LEGACY_ADAPTER_OPS_PORT: '0',
      LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
      LEGACY_DATABASE_URL: legacy.url,
      LEGACY_MAPPING_FILE: MAPPING_FILE,
    }),
  );
  try {
    await createLegacyPhpSchema(legacy);
    const salt = 'x7Kq';
    await legacy.knex('users').insert([
      // alice: logs in before the migration ever runs (JIT import through the adapter).
      { user_login: 'alice', user_email: 'Alice@Example.test', user_pass: md5(`${salt}alice-old`), user_salt: salt, display_name: 'Alice' },
      // bob: copied by the migration, upgraded at his first idp login, then changes his password on the legacy site.
      { user_login: 'bob', user_email: 'bob@example.test', user_pass: sha1('bob-old'), user_salt: null, display_name: 'Bob' },
      // carol: copied by the migration, never logs in, changes her password on the legacy site.
      { user_login: 'carol', user_email: 'carol@example.test', user_pass: hashSync('carol-old', 4).replace('$2b$', '$2y$'), display_name: 'Carol' },
      // dave: copied and upgraded at login; nothing changes on the legacy side.
      { user_login: 'dave', user_email: 'dave@example.test', user_pass: md5('dave-pw'), user_salt: null, display_name: 'Dave' },
    ]);
    const { login, users } = loginServiceFor(idp.knex, adapter.url);
    const legacyId = async (login: string) => String((await legacy.knex('users').where('user_login', login).first('user_id')).user_id);

    assert.equal((await login.login('alice', 'alice-old')).ok, true, 'alice: JIT import through the legacy-adapter');
    const aliceImported = await users.findByLegacyId(await legacyId('alice'));
    assert.ok(isPbkdf2(aliceImported?.passwordHash));
    assert.equal(
      aliceImported?.legacyFingerprint,
      legacyFingerprint(FINGERPRINT_KEY, md5(`${salt}alice-old`), salt),
      'the JIT import records the legacy fingerprint',
    );

    const first = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY });
    assert.deepEqual([first.counts.read, first.counts.inserted, first.counts.alreadyUpgraded, first.counts.updated], [4, 3, 1, 0]);
    assert.equal((await users.findByLegacyId(await legacyId('alice')))?.passwordHash, aliceImported?.passwordHash, 'alice keeps her PBKDF2 hash');

    assert.equal((await login.login('bob', 'bob-old')).ok, true);
    assert.equal((await login.login('dave', 'dave-pw')).ok, true);
    const bobUpgraded = await users.findByLegacyId(await legacyId('bob'));
    const daveUpgraded = await users.findByLegacyId(await legacyId('dave'));
    assert.ok(isPbkdf2(bobUpgraded?.passwordHash) && isPbkdf2(daveUpgraded?.passwordHash), 'upgraded at login');

    // The legacy site's own password change (change-password.php): password_hash(), salt cleared, updated_at stamped.
    const changedAt = new Date(Date.now() - 1000);
    const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ');
    const bobNew = hashSync('bob-new', 4).replace('$2b$', '$2y$');
    const carolNew = hashSync('carol-new', 4).replace('$2b$', '$2y$');
    await legacy.knex('users').where('user_login', 'bob').update({ user_pass: bobNew, user_salt: null, updated_at: stamp });
    await legacy.knex('users').where('user_login', 'carol').update({ user_pass: carolNew, user_salt: null, updated_at: stamp });

    // The delta pass, as ops run it during the weeks both systems live.
    const delta = await spawnMigrate(['--changed-since', changedAt.toISOString(), '--json'], { ...idp.env, LEGACY_DATABASE_URL: legacy.url }).done;
    assert.equal(delta.code, 0, delta.stderr);
    const deltaReport = JSON.parse(delta.stdout) as MigrationReport;
    assert.equal(deltaReport.mode, 'delta');
    assert.deepEqual([deltaReport.counts.read, deltaReport.counts.updated, deltaReport.counts.inserted], [2, 2, 0], 'only the two changed rows are read');

    const bob = await users.findByLegacyId(await legacyId('bob'));
    const carol = await users.findByLegacyId(await legacyId('carol'));
    assert.equal(bob?.passwordHash, bobNew, "bob's new legacy password wins over his PBKDF2 hash");
    assert.equal(bob?.legacyFingerprint, legacyFingerprint(FINGERPRINT_KEY, bobNew, null));
    assert.equal(bob?.passwordScheme, 'bcrypt-2y');
    assert.equal(carol?.passwordHash, carolNew);

    // A full pass now changes nothing: alice and dave keep PBKDF2.
    const full = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY });
    assert.deepEqual([full.counts.read, full.counts.alreadyUpgraded, full.counts.unchanged, full.counts.updated], [4, 2, 2, 0]);
    assert.equal((await users.findByLegacyId(await legacyId('dave')))?.passwordHash, daveUpgraded?.passwordHash);

    // Everyone logs in with the password they last chose; old legacy passwords no longer work.
    assert.equal((await login.login('alice', 'alice-old')).ok, true, 'alice');
    assert.equal((await login.login('dave', 'dave-pw')).ok, true, 'dave');
    assert.equal((await login.login('bob', 'bob-old')).ok, false, 'bob: the old password is gone');
    assert.equal((await login.login('bob', 'bob-new')).ok, true, 'bob: the new legacy password');
    assert.equal((await login.login('carol', 'carol-old')).ok, false, 'carol: the old password is gone');
    assert.equal((await login.login('CAROL@example.test', 'carol-new')).ok, true, 'carol: the new legacy password');
    assert.ok(isPbkdf2((await users.findByLegacyId(await legacyId('bob')))?.passwordHash), 'bob upgraded again at login');

    // A re-run after those upgrades: the fingerprints match, so nothing is downgraded.
    const last = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY });
    assert.deepEqual([last.counts.alreadyUpgraded, last.counts.updated], [4, 0]);
  } finally {
    await adapter.stop();
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});
