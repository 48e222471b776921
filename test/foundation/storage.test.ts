import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabase, databaseKind, migrate } from '../../lib/db.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createTestRedis, forEachDatabase, redisProblem, REDIS_TEST_URL, skipLoudly } from '../../scripts/support/databases.ts';

test('databaseKind reads the URL scheme and refuses others', () => {
  assert.equal(databaseKind('sqlite::memory:'), 'sqlite');
  assert.equal(databaseKind('mysql://root@127.0.0.1/x'), 'mysql');
  assert.equal(databaseKind('mariadb://root@127.0.0.1/x'), 'mysql');
  assert.throws(() => databaseKind('postgres://x'), /unsupported database URL scheme: postgres/);
});

test('idp migrations', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    console.log(`# storage: running idp migrations on ${db.kind}`);
    assert.deepEqual(
      await migrate(db.knex, idpMigrations),
      idpMigrations.map((m) => m.name),
    );
    assert.deepEqual(await migrate(db.knex, idpMigrations), [], 'a second run applies nothing');

    await db
      .knex('users')
      .insert({ id: 'u1', username: 'Alice', username_normalized: 'alice', email: 'Alice@Example.org', email_normalized: 'alice@example.org' });
    const row = await db.knex('users').where({ id: 'u1' }).first();
    assert.equal(row.username, 'Alice');
    assert.equal(Boolean(row.active), true, 'accounts are active by default');
    assert.equal(Boolean(row.email_verified), false);
    await assert.rejects(db.knex('users').insert({ id: 'u2', email_normalized: 'alice@example.org' }), /unique|duplicate/i, 'one account per normalised email');
    await assert.rejects(
      db
        .knex('users')
        .insert({ id: 'u3', legacy_id: '7' })
        .then(() => db.knex('users').insert({ id: 'u4', legacy_id: '7' })),
      /unique|duplicate/i,
    );
  });
});

test('concurrent migrations from two replicas apply each migration once', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    const second = createDatabase(db.url);
    const results = await Promise.all([migrate(db.knex, idpMigrations), migrate(second, idpMigrations)]).finally(() => second.destroy());
    const applied = results.flat();
    assert.deepEqual(
      applied,
      idpMigrations.map((m) => m.name),
    );
  });
});

test("two lock rows left by knex's racy first start do not lock migrations out for good", async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations.slice(0, 1));
    // What two processes creating the lock table at the same moment leave behind.
    await db.knex('knex_migrations_lock').insert({ is_locked: 0 });
    const applied = await migrate(db.knex, idpMigrations.slice(0, 2), 'knex_migrations', { lockWaitMs: 5_000 });
    assert.deepEqual(applied, [idpMigrations[1]!.name]);
    assert.equal((await db.knex('knex_migrations_lock').count({ n: '*' }))[0]!.n, 1);
  });
});

test('redis connection with a per-run key prefix', async (t) => {
  const problem = await redisProblem();
  if (problem) return skipLoudly(t, `Redis at ${REDIS_TEST_URL}`, problem);
  console.log('# storage: running redis tests');
  const { redis, prefix, cleanup } = await createTestRedis();
  try {
    await redis.set('k', 'v', 'EX', 60);
    assert.equal(await redis.get('k'), 'v');
    const raw = redis.duplicate({ keyPrefix: '' });
    assert.equal(await raw.get(`${prefix}k`), 'v', 'keys land under the prefix');
    raw.disconnect();
  } finally {
    await cleanup();
  }
});
