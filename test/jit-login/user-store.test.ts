import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrate } from '../../lib/db.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import type { NewLegacyUser } from '../../idp/users/types.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import './support.ts';

const newUser = (legacyId: string, extra: Partial<NewLegacyUser> = {}): NewLegacyUser => ({
  legacyId,
  username: `User${legacyId}`,
  email: `User${legacyId}@Example.COM`,
  name: `User ${legacyId}`,
  passwordHash: `$pbkdf2-sha256$i=1000,l=32$hash-of-${legacyId}`,
  passwordScheme: 'pbkdf2-sha256',
  legacyFingerprint: `v1.fp-${legacyId}`,
  ...extra,
});

test('users are found by username or e-mail case-insensitively, by id and by legacy id', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const users = createUserStore(db.knex);
    const { user, created } = await users.insertFromLegacy(newUser('7'));
    assert.equal(created, true);
    assert.match(user.id, /^[0-9a-f-]{36}$/);
    assert.notEqual(user.id, '7', 'the OIDC subject is never the legacy id');
    for (const login of ['user7', 'USER7', '  User7 ', 'user7@example.com', 'USER7@EXAMPLE.COM']) {
      assert.equal((await users.findByLogin(login))?.id, user.id, login);
    }
    assert.equal(await users.findByLogin('user8'), undefined);
    assert.equal(await users.findByLogin('   '), undefined);
    assert.equal((await users.findById(user.id))?.legacyId, '7');
    assert.equal((await users.findByLegacyId('7'))?.id, user.id);
    assert.deepEqual(
      { ...user, id: undefined, updatedAt: undefined },
      {
        id: undefined,
        updatedAt: undefined,
        legacyId: '7',
        username: 'User7',
        email: 'User7@Example.COM',
        emailVerified: false,
        name: 'User 7',
        active: true,
        passwordHash: '$pbkdf2-sha256$i=1000,l=32$hash-of-7',
        passwordSalt: null,
        passwordScheme: 'pbkdf2-sha256',
        passwordCandidates: [],
        passwordEncodings: ['utf8'],
        legacyFingerprint: 'v1.fp-7',
        passwordChangedAt: null,
      },
    );
    assert.ok(user.updatedAt instanceof Date && !Number.isNaN(user.updatedAt.getTime()));
  });
});

test('a username match beats another user whose e-mail is that string', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const users = createUserStore(db.knex);
    const byEmail = await users.insertFromLegacy(newUser('1', { username: 'first', email: 'twin' }));
    const byName = await users.insertFromLegacy(newUser('2', { username: 'Twin', email: 'second@example.com' }));
    assert.notEqual(byEmail.user.id, byName.user.id);
    assert.equal((await users.findByLogin('twin'))?.id, byName.user.id);
  });
});

test('importing is idempotent on the legacy id, even twenty at once', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const users = createUserStore(db.knex);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => users.insertFromLegacy(newUser('42', { passwordHash: `hash-${i}` }))));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.user.id)).size, 1);
    const rows = await db.knex('users').where('legacy_id', '42');
    assert.equal(rows.length, 1);
    // The losers got the winner's row, untouched.
    const winner = results.find((r) => r.created);
    assert.ok(results.every((r) => r.user.passwordHash === winner?.user.passwordHash));
  });
});

test('a login key another user holds is left off the imported user instead of failing', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const users = createUserStore(db.knex);
    await users.insertFromLegacy(newUser('1', { username: 'first', email: 'shared@example.com' }));
    const second = await users.insertFromLegacy(newUser('2', { username: 'second', email: 'Shared@example.com' }));
    assert.equal(second.created, true);
    assert.equal(second.user.email, 'Shared@example.com', 'the address is kept as profile data');
    assert.equal((await users.findByLogin('second'))?.legacyId, '2');
    assert.equal((await users.findByLogin('shared@example.com'))?.legacyId, '1');
  });
});

test('replacing a hash is a compare-and-set on the old hash, and keeps legacy metadata consistent', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const users = createUserStore(db.knex);
    const { user } = await users.insertFromLegacy(
      newUser('9', {
        passwordHash: 'abc',
        passwordSalt: 'NaCl',
        passwordScheme: 'md5(salt.password)',
        passwordCandidates: ['md5(salt.password)', 'md5'],
        passwordEncodings: ['latin1', 'utf8'],
      }),
    );
    assert.deepEqual([user.passwordCandidates, user.passwordEncodings, user.passwordSalt], [['md5(salt.password)', 'md5'], ['latin1', 'utf8'], 'NaCl']);
    assert.equal(await users.replacePasswordHash({ userId: user.id, expectedHash: 'not-the-stored-one', newHash: 'x', newScheme: 'pbkdf2-sha256' }), false);
    assert.equal((await users.findById(user.id))?.passwordHash, 'abc');
    assert.equal(await users.replacePasswordHash({ userId: user.id, expectedHash: 'abc', newHash: 'new', newScheme: 'pbkdf2-sha256' }), true);
    const after = await users.findById(user.id);
    assert.deepEqual(
      [after?.passwordHash, after?.passwordScheme, after?.passwordSalt, after?.passwordCandidates, after?.passwordEncodings],
      ['new', 'pbkdf2-sha256', null, [], ['utf8']],
    );
    // The second of two concurrent upgrades finds the hash changed and writes nothing.
    assert.equal(await users.replacePasswordHash({ userId: user.id, expectedHash: 'abc', newHash: 'other', newScheme: 'pbkdf2-sha256' }), false);
    assert.equal((await users.findById(user.id))?.passwordHash, 'new');
    const counts = await users.countByPasswordScheme();
    assert.equal(counts.get('pbkdf2-sha256'), 1);
  });
});

test('the password migration is expand-only: it applies on a 001-only database with rows, and rolls back', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations.slice(0, 1));
    await db.knex('users').insert({ id: 'old-row', username: 'old', username_normalized: 'old', password_hash: 'h' });
    await migrate(db.knex, idpMigrations);
    const users = createUserStore(db.knex);
    const old = await users.findByLogin('old');
    assert.deepEqual([old?.passwordScheme, old?.legacyFingerprint], [null, null]);
    assert.equal((await users.countByPasswordScheme()).get('unknown'), 1);
    const migration = idpMigrations.find((m) => m.name === '002-password-metadata');
    await migration?.down(db.knex);
    assert.equal(await db.knex.schema.hasColumn('users', 'password_scheme'), false);
    assert.equal(await db.knex.schema.hasColumn('users', 'password_hash'), true);
  });
});
