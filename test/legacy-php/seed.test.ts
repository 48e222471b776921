// seed.php: idempotent, and --users=N adds synthetic users that can log in. Also health.php.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  LEGACY_DEMO_PASSWORD,
  LEGACY_DEMO_USERS,
  LEGACY_PHP_DIR,
  describeOrSkip,
  LegacyBrowser,
  legacyKnex,
  legacyPhpUnavailableReason,
  startLegacyPhp,
  type LegacyPhp,
} from '../../scripts/support/legacy-php.ts';

const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('legacy PHP seed.php and api/health.php (sqlite)', reason, () => {
  let php: LegacyPhp;

  before(async () => {
    php = await startLegacyPhp({ db: 'sqlite', seedUsers: 8, seedPassword: 'another demo password' });
  });
  after(async () => {
    await php?.stop();
  });

  it('--users=N adds user000001..N with fast schemes in rotation, all with the seed password', async () => {
    const db = legacyKnex(php);
    try {
      const synthetic = await db('users').where('user_login', 'like', 'user%').orderBy('user_id').select('user_login', 'user_pass', 'user_salt');
      assert.deepEqual(
        synthetic.map((u) => u.user_login),
        ['user000001', 'user000002', 'user000003', 'user000004', 'user000005', 'user000006', 'user000007', 'user000008'],
      );
      const shapes = synthetic.slice(0, 4).map((u) => [u.user_pass.length === 60 ? u.user_pass.slice(0, 7) : u.user_pass.length, u.user_salt !== null]);
      assert.deepEqual(shapes, [
        [32, false],
        [32, true],
        [40, false],
        ['$2y$04$', false],
      ]);
    } finally {
      await db.destroy();
    }
    for (const login of ['user000001', 'user000002', 'user000003', 'user000004', 'alice']) {
      const browser = new LegacyBrowser(php.url);
      assert.equal((await browser.login(login, 'another demo password')).status, 302, login);
    }
    assert.equal((await new LegacyBrowser(php.url).login('alice', LEGACY_DEMO_PASSWORD)).status, 200, 'LEGACY_SEED_PASSWORD replaced the default');
  });

  it('running it again adds only what is missing and leaves existing users alone', async () => {
    const db = legacyKnex(php);
    try {
      const before = await db('users').orderBy('user_id').select();
      const output = execFileSync(process.env.PHP_BINARY || 'php', [join(LEGACY_PHP_DIR, 'seed.php'), '--users=10'], { env: { ...process.env, ...php.env }, encoding: 'utf8' });
      assert.match(output, /users: 2 created, 23 already there/);
      const afterRows = await db('users').orderBy('user_id').select();
      assert.equal(afterRows.length, LEGACY_DEMO_USERS.length + 10);
      assert.deepEqual(afterRows.slice(0, before.length), before, 'existing rows untouched');
    } finally {
      await db.destroy();
    }
  });

  it('api/health.php says ok with the database up and 503 when the users table is unreachable', async () => {
    const ok = await fetch(`${php.url}/api/health.php`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'ok', db: true, session_store: 'db' });
    assert.equal(ok.headers.get('set-cookie'), null, 'health does not start sessions');

    const db = legacyKnex(php);
    try {
      await db.schema.renameTable('users', 'users_away');
      const down = await fetch(`${php.url}/api/health.php`);
      assert.equal(down.status, 503);
      assert.deepEqual(await down.json(), { status: 'error', db: false, session_store: 'db' });
    } finally {
      await db.schema.renameTable('users_away', 'users');
      await db.destroy();
    }
  });
});
