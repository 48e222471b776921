// The legacy session: PHP's serialize format in the sessions table (or phpredis keys), and
// the proof that something other than PHP (the session bridge) can log a user in by writing it.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  LEGACY_DEMO_PASSWORD,
  describeOrSkip,
  LegacyBrowser,
  legacyKnex,
  legacyPhpUnavailableReason,
  legacySessionData,
  startLegacyPhp,
  type LegacyPhp,
} from '../../scripts/support/legacy-php.ts';
import type { Knex } from 'knex';

/** A session id as a bridge might make one: PHP accepts [A-Za-z0-9,-]{22,128}. */
function newSessionId(): string {
  return randomBytes(20).toString('hex');
}

function asText(data: unknown): string {
  return Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
}

async function userId(db: Knex, login: string): Promise<number> {
  const row = await db('users').where({ user_login: login }).first('user_id');
  assert.ok(row, `user ${login} exists`);
  return Number(row.user_id);
}

for (const kind of ['mysql', 'sqlite'] as const) {
  const reason = await legacyPhpUnavailableReason({ db: kind });

  describeOrSkip(`legacy PHP sessions in the sessions table (${kind})`, reason, () => {
    let php: LegacyPhp;
    let db: Knex;

    before(async () => {
      php = await startLegacyPhp({ db: kind });
      db = legacyKnex(php);
    });
    after(async () => {
      await db?.destroy();
      await php?.stop();
    });

    it('api/me.php answers 401 without a session, 200 after login, 401 again after logout', async () => {
      const browser = new LegacyBrowser(php.url);
      const anonymous = await browser.get('api/me.php');
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(JSON.parse(anonymous.body), { error: 'not_authenticated' });
      assert.equal(browser.sessionId(), undefined, 'api/me.php does not hand out sessions');

      assert.equal((await browser.login('bob', LEGACY_DEMO_PASSWORD)).status, 302);
      const me = await browser.get('api/me.php');
      assert.equal(me.status, 200);
      assert.deepEqual(JSON.parse(me.body), { user_id: await userId(db, 'bob'), login: 'bob', email: 'bob@example.com' });

      const sessionId = browser.sessionId()!;
      const logout = await browser.postForm('logout.php', {});
      assert.equal(logout.status, 302);
      assert.equal(logout.location?.pathname, '/index.php');
      assert.equal(browser.sessionId(), undefined, 'the cookie is expired');
      assert.equal((await browser.get('api/me.php')).status, 401);
      assert.equal(await db('sessions').where({ id: sessionId }).first(), undefined, 'the row is gone');

      // Replaying the old cookie does not bring the session back.
      const replay = new LegacyBrowser(php.url);
      replay.cookies.set('PHPSESSID', sessionId);
      assert.equal((await replay.get('api/me.php')).status, 401);
    });

    it('logout also works with a plain GET (old links)', async () => {
      const browser = new LegacyBrowser(php.url);
      await browser.login('alice', LEGACY_DEMO_PASSWORD);
      assert.equal((await browser.get('api/me.php')).status, 200);
      assert.equal((await browser.get('logout.php')).status, 302);
      assert.equal((await browser.get('api/me.php')).status, 401);
    });

    it('stores the logged-in session as a row in PHP serialize format with user_id and login', async () => {
      const browser = new LegacyBrowser(php.url);
      await browser.login('carol', LEGACY_DEMO_PASSWORD);
      const id = browser.sessionId()!;
      const row = await db('sessions').where({ id }).first();
      assert.ok(row, 'session row exists');
      const data = asText(row.data);
      assert.ok(data.includes('user_id|i:'), data);
      assert.ok(data.includes('login|s:'), data);
      assert.ok(data.startsWith(legacySessionData(await userId(db, 'carol'), 'carol')), data);
      assert.ok(Math.abs(Number(row.last_access) - Date.now() / 1000) < 60, 'last_access is a unix time');
    });

    it('a session row written directly (as the bridge will) logs the user in on unchanged PHP pages', async () => {
      const id = newSessionId();
      const daveId = await userId(db, 'dave');
      await db('sessions').insert({ id, data: legacySessionData(daveId, 'dave'), last_access: Math.floor(Date.now() / 1000) });

      const browser = new LegacyBrowser(php.url);
      browser.cookies.set('PHPSESSID', id);
      const account = await browser.get('account.php');
      assert.equal(account.status, 200, `not redirected to ${account.location}`);
      assert.match(account.body, /<td id="account-login">dave<\/td>/);
      assert.equal(browser.sessionId(), id, 'PHP kept the bridged id (strict mode accepts it: the row exists)');
      assert.equal(JSON.parse((await browser.get('api/me.php')).body).user_id, daveId);

      // And PHP can go on using it: its forms work and logout removes the row.
      assert.match((await browser.get('change-password.php')).body, /name="csrf_token"/);
      await browser.get('logout.php');
      assert.equal(await db('sessions').where({ id }).first(), undefined);
    });

    it('a bridged session for an inactive user, an expired row or an unknown id logs nobody in', async () => {
      const now = Math.floor(Date.now() / 1000);
      const inactive = newSessionId();
      const expired = newSessionId();
      await db('sessions').insert([
        { id: inactive, data: legacySessionData(await userId(db, 'judy'), 'judy'), last_access: now },
        { id: expired, data: legacySessionData(await userId(db, 'alice'), 'alice'), last_access: now - 2 * 1440 },
      ]);
      for (const id of [inactive, expired, newSessionId()]) {
        const browser = new LegacyBrowser(php.url);
        browser.cookies.set('PHPSESSID', id);
        assert.equal((await browser.get('api/me.php')).status, 401, id);
        const account = await browser.get('account.php');
        assert.equal(account.location?.pathname, '/login.php');
      }
    });
  });
}

{
  const reason = await legacyPhpUnavailableReason({ db: 'mysql', sessionStore: 'redis' });

  describeOrSkip('legacy PHP sessions in Redis (LEGACY_SESSION_STORE=redis)', reason, () => {
    let php: LegacyPhp;
    let redis: Redis;
    let db: Knex;

    before(async () => {
      php = await startLegacyPhp({ db: 'mysql', sessionStore: 'redis', sessionName: 'LEGACYSESS' });
      redis = new Redis(php.redisUrl, { maxRetriesPerRequest: 1 });
      db = legacyKnex(php);
    });
    after(async () => {
      redis?.disconnect();
      await db?.destroy();
      await php?.stop();
    });

    it('login writes PHPREDIS_SESSION:<id> in PHP serialize format with a TTL, and no sessions row', async () => {
      const browser = new LegacyBrowser(php.url);
      assert.equal((await browser.login('grace', LEGACY_DEMO_PASSWORD)).status, 302);
      const id = browser.sessionId('LEGACYSESS');
      assert.ok(id, 'cookie named by LEGACY_SESSION_NAME');
      const data = await redis.get(`PHPREDIS_SESSION:${id}`);
      assert.ok(data, 'redis key exists');
      assert.ok(data.includes('user_id|i:') && data.includes('login|s:5:"grace";'), data);
      const ttl = await redis.ttl(`PHPREDIS_SESSION:${id}`);
      assert.ok(ttl > 0 && ttl <= 1440, `ttl ${ttl}`);
      assert.equal((await db('sessions').count({ n: '*' }))[0]?.n, 0);

      await browser.get('logout.php');
      assert.equal(await redis.exists(`PHPREDIS_SESSION:${id}`), 0);
    });

    it('a session key written directly in Redis (as the bridge will) logs the user in', async () => {
      const id = newSessionId();
      const heidiId = await userId(db, 'heidi');
      await redis.set(`PHPREDIS_SESSION:${id}`, legacySessionData(heidiId, 'heidi'), 'EX', 1440);
      const browser = new LegacyBrowser(php.url);
      browser.cookies.set('LEGACYSESS', id);
      const account = await browser.get('account.php');
      assert.equal(account.status, 200);
      assert.match(account.body, /<td id="account-login">heidi<\/td>/);
      assert.deepEqual(JSON.parse((await browser.get('api/me.php')).body), { user_id: heidiId, login: 'heidi', email: 'heidi@example.com' });
      await redis.del(`PHPREDIS_SESSION:${id}`);
    });
  });
}
