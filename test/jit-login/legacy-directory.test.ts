import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createLegacyDirectory, type LegacyDirectory } from '../../legacy-adapter/directory/directory.ts';
import { legacyFingerprint } from '../../legacy-adapter/directory/fingerprint.ts';
import { loadMapping } from '../../legacy-adapter/mapping-format/index.ts';
import { createAdapterMetrics } from '../../legacy-adapter/metrics.ts';
import type { Knex } from '../../lib/db.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import { insertLegacyRows } from './support.ts';
import { PASSWORD, vector } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow, schemeUsers } from '../../scripts/support/legacy-users.ts';
import { FORUM_MAPPING, LEGACY_PHP_MAPPING } from '../../scripts/support/legacy-adapter.ts';
import { sample } from '../support/prometheus-text.ts';

const KEY = 'fingerprint-key-for-tests-0123456789';

function directoryFor(knex: Knex, mappingFile: string) {
  const registry = new Registry();
  const directory = createLegacyDirectory(knex, { mapping: loadMapping(mappingFile), fingerprintKey: KEY, metrics: createAdapterMetrics(registry) });
  return { directory, registry };
}

async function reasonOf(directory: LegacyDirectory, login: string, password: string): Promise<string> {
  const result = await directory.authenticate(login, password);
  return result.ok ? 'ok' : result.reason;
}

test('the sample monolith schema: every scheme it accepts verifies, by login or e-mail, case-insensitively', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    await insertLegacyRows(db.knex, schemeUsers);
    const { directory } = directoryFor(db.knex, LEGACY_PHP_MAPPING);
    for (const row of schemeUsers) {
      const result = await directory.authenticate(row.user_login.toUpperCase(), PASSWORD);
      assert.ok(result.ok, `${row.display_name} by login`);
      assert.equal(result.user.username, row.user_login);
      assert.equal(result.user.email, row.user_email);
      assert.equal(result.user.active, true);
      assert.equal(result.fingerprint, legacyFingerprint(KEY, row.user_pass, row.user_salt));
      // Never a hash or salt in what leaves the directory.
      assert.ok(!JSON.stringify(result).includes(row.user_pass), row.display_name);
      assert.ok((await directory.authenticate(row.user_email, PASSWORD)).ok, `${row.display_name} by e-mail`);
      // Changed in the first 8 characters: DES crypt ignores the rest, as PHP does.
      assert.equal(await reasonOf(directory, row.user_login, `X${PASSWORD}`), 'wrong_password', row.display_name);
    }
  });
});

test('inactive, unknown and garbage rows fail cleanly, are counted, and break no one else', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    await insertLegacyRows(db.knex, [
      legacyRow('ok_user', vector('bcrypt-2y').hash),
      legacyRow('inactive_user', vector('bcrypt-2y').hash, { is_active: 0 }),
      legacyRow('garbage', 'not a hash at all!'),
      legacyRow('unknown_prefix', '$9$abcdefghijklmnopqrstuv'),
      legacyRow('empty_hash', ''),
      legacyRow('absurd_cost', vector('bcrypt-2y').hash.replace('$2y$10$', '$2y$31$')),
    ]);
    const { directory, registry } = directoryFor(db.knex, LEGACY_PHP_MAPPING);
    assert.equal(await reasonOf(directory, 'inactive_user', PASSWORD), 'inactive');
    assert.equal(await reasonOf(directory, 'nobody', PASSWORD), 'not_found');
    for (const login of ['garbage', 'unknown_prefix', 'empty_hash', 'absurd_cost']) {
      assert.equal(await reasonOf(directory, login, PASSWORD), 'unreadable_hash', login);
    }
    assert.equal(await reasonOf(directory, 'ok_user', ''), 'empty_password');
    assert.equal(await reasonOf(directory, 'ok_user', PASSWORD), 'ok');
    const metrics = await registry.metrics();
    assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'unreadable_hash' }), 4);
    assert.equal(sample(metrics, 'legacy_adapter_unreadable_hashes_total', { code: 'unrecognised' }), 2);
    assert.equal(sample(metrics, 'legacy_adapter_unreadable_hashes_total', { code: 'cost-limit' }), 1);
    assert.equal(sample(metrics, 'legacy_adapter_unreadable_hashes_total', { code: 'empty' }), 1);
    assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'success', scheme: 'bcrypt-2y' }), 1);
    assert.ok(sample(metrics, 'legacy_adapter_verify_duration_seconds_count', { scheme: 'bcrypt-2y' }) >= 2);
  });
});

test('a login name beats an e-mail match, and a shared e-mail picks the oldest account, as the monolith does', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    const hash = vector('md5').hash;
    await insertLegacyRows(db.knex, [
      legacyRow('first', hash, { user_email: 'shared@example.com' }),
      legacyRow('second', hash, { user_email: 'shared@example.com' }),
      legacyRow('shared@example.com', vector('sha1').hash, { user_email: 'other@example.com' }),
    ]);
    const { directory } = directoryFor(db.knex, LEGACY_PHP_MAPPING);
    assert.equal((await directory.findForLogin('Shared@Example.com'))?.username, 'shared@example.com');
    assert.deepEqual(
      (await directory.findByEmail('SHARED@example.com')).map((r) => r.username),
      ['first', 'second'],
    );
    const viaEmail = await directory.authenticate('other@example.com', PASSWORD);
    assert.equal(viaEmail.ok && viaEmail.user.username, 'shared@example.com');
  });
});

async function createForumSchema(knex: Knex): Promise<void> {
  await knex.schema.createTable('forum_members', (t) => {
    t.string('member_uid', 36).primary();
    t.string('email_address', 190).notNullable();
    t.string('pw', 255).nullable();
    t.string('pw_salt', 16).nullable();
    t.string('status', 16).notNullable();
    t.string('real_name', 100).nullable();
  });
}

test('a second, differently shaped schema needs only its mapping file (string ids, e-mail only, status, Latin-1)', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createForumSchema(db.knex);
    const latin1 = 'Pässwörd-ünïcode';
    const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
    const salted = vector('md5(password.salt)');
    await db.knex('forum_members').insert([
      { member_uid: 'm-0001', email_address: 'Olga@Forum.example', pw: salted.hash, pw_salt: salted.salt, status: 'active', real_name: 'Olga' },
      { member_uid: 'm-0002', email_address: 'piet@forum.example', pw: vector('md5(md5(password))').hash, pw_salt: null, status: 'verified', real_name: null },
      { member_uid: 'm-0003', email_address: 'wp@forum.example', pw: vector('phpass-portable-P').hash, pw_salt: null, status: 'active', real_name: 'WP' },
      // Hashed by an ISO-8859-1 page: the bytes were Latin-1.
      {
        member_uid: 'm-0004',
        email_address: 'latin@forum.example',
        pw: md5(md5(Buffer.from(latin1, 'latin1'))),
        pw_salt: null,
        status: 'active',
        real_name: 'Ünïcode',
      },
      { member_uid: 'm-0005', email_address: 'banned@forum.example', pw: vector('md5(md5(password))').hash, pw_salt: null, status: 'banned', real_name: null },
      { member_uid: 'm-0006', email_address: 'null@forum.example', pw: null, pw_salt: null, status: 'active', real_name: null },
    ]);
    const { directory } = directoryFor(db.knex, FORUM_MAPPING);
    const olga = await directory.authenticate('olga@forum.example', PASSWORD);
    assert.deepEqual(olga.ok && olga.user, { legacyId: 'm-0001', username: null, email: 'Olga@Forum.example', name: 'Olga', active: true });
    assert.equal(await reasonOf(directory, 'piet@forum.example', PASSWORD), 'ok');
    assert.equal(await reasonOf(directory, 'wp@forum.example', PASSWORD), 'ok');
    assert.equal(await reasonOf(directory, 'latin@forum.example', latin1), 'ok');
    assert.equal(await reasonOf(directory, 'latin@forum.example', 'Passwort'), 'wrong_password');
    assert.equal(await reasonOf(directory, 'banned@forum.example', PASSWORD), 'inactive');
    assert.equal(await reasonOf(directory, 'null@forum.example', PASSWORD), 'unreadable_hash');
    // No username column: a login name is just an unknown e-mail.
    assert.equal(await reasonOf(directory, 'm-0001', PASSWORD), 'not_found');
    // The sample monolith's mapping does not fit this table: the readiness check says so.
    await assert.rejects(directoryFor(db.knex, LEGACY_PHP_MAPPING).directory.check(), { name: 'LegacyUnavailableError' });
    await directory.check();
  });
});
