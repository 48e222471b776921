// The second sample monolith on its own (php -S, MariaDB or SQLite, Redis): logins with every
// hash era, its php_serialize sessions in Redis under its own prefix and cookie, logout, and the
// session format documented for code that logs members in from outside.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { describeOrSkip, legacyKnex, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { demoMember, MEMBERS_DEMO, MembersBrowser, membersSessionData, startLegacyPhp2, type LegacyPhp2 } from '../support/legacy-php-2.ts';

for (const kind of ['mysql', 'sqlite'] as const) {
  const reason = await legacyPhpUnavailableReason({ db: kind, sessionStore: 'redis' });

  describeOrSkip(`legacy-php-2 logins and sessions (${kind})`, reason, () => {
    let site: LegacyPhp2;

    before(async () => {
      // A cookie name of our own choosing: the site must take it from its settings.
      site = await startLegacyPhp2({ db: kind, sessionName: 'CLUBSID', sessionLifetime: 900 });
    });
    after(async () => {
      await site?.stop();
    });

    it('every hash era logs in by handle, and a session lands in Redis in php_serialize format under the prefix', async () => {
      for (const member of MEMBERS_DEMO.filter((m) => !m.banned)) {
        const browser = new MembersBrowser(site);
        const login = await browser.login(member.handle.toUpperCase(), member.password);
        assert.equal(login.status, 302, `${member.handle} (${member.scheme})`);
        assert.equal(login.headers.get('location'), '/account.php');
        const id = browser.sessionId();
        assert.ok(id, `${member.handle}: a CLUBSID cookie`);
        assert.equal(browser.cookies.has('PHPSESSID'), false);

        // The handle as stored, not as typed; is_admin from group_id.
        assert.equal(await site.redis.get(id), membersSessionData(member), member.handle);
        const ttl = await site.redis.ttl(id);
        assert.ok(ttl > 0 && ttl <= 900, `TTL ${ttl} is the session lifetime`);

        const account = await browser.get('account.php');
        assert.equal(account.status, 200);
        assert.match(account.body, new RegExp(`id="member-handle">${member.handle}<`));
        assert.match(account.body, new RegExp(`id="member-mail">${member.mail}<`));
        assert.match(account.body, new RegExp(`id="member-group">${member.admin ? 'Administrator' : 'Member'}<`));
      }
    });

    it('a wrong password, an unknown handle, an e-mail address and a banned member are refused without a session', async () => {
      const anna = demoMember('anna');
      const frank = demoMember('frank');
      const attempts: Array<[string, string, RegExp]> = [
        ['anna', `${anna.password}x`, /Wrong handle or password/],
        ['nobody', anna.password, /Wrong handle or password/],
        [anna.mail, anna.password, /Wrong handle or password/],
        ['frank', frank.password, /This account has been suspended/],
      ];
      for (const [handle, pass, message] of attempts) {
        const browser = new MembersBrowser(site);
        const answer = await browser.login(handle, pass);
        assert.equal(answer.status, 200, handle);
        assert.match(answer.body, /id="login-problem"/);
        assert.match(answer.body, message);
        assert.equal(browser.sessionId(), undefined, `${handle}: no session`);
      }
    });

    it('logout deletes the Redis key and expires the cookie; the old cookie is worth nothing', async () => {
      const emma = demoMember('emma');
      const browser = new MembersBrowser(site);
      assert.equal((await browser.login(emma.handle, emma.password)).status, 302);
      const id = browser.sessionId()!;
      const logout = await browser.get('logout.php');
      assert.equal(logout.status, 302);
      assert.equal(logout.headers.get('location'), '/login.php?bye=1');
      assert.equal(browser.sessionId(), undefined);
      assert.equal(await site.redis.exists(id), 0);

      const replay = new MembersBrowser(site);
      replay.cookies.set('CLUBSID', id);
      const account = await replay.get('account.php');
      assert.equal(account.status, 302);
      assert.equal(account.headers.get('location'), '/login.php?redirect=%2Faccount.php');
    });

    it('a session written from outside, as the README says, logs the member in; banning them logs them out', async () => {
      const bernd = demoMember('Bernd');
      const id = randomBytes(20).toString('hex');
      await site.redis.set(id, membersSessionData(bernd), 'EX', 900);
      const browser = new MembersBrowser(site);
      browser.cookies.set('CLUBSID', id);
      const account = await browser.get('account.php');
      assert.equal(account.status, 200);
      assert.match(account.body, /id="member-handle">Bernd</);

      const knex = legacyKnex(site);
      try {
        await knex('members').where({ member_id: bernd.id }).update({ banned: 1 });
        assert.equal((await browser.get('account.php')).status, 302, 'banned since: logged out');
        assert.equal(await site.redis.get(id), 'a:0:{}', 'the keys are gone from the session');
      } finally {
        await knex('members').where({ member_id: bernd.id }).update({ banned: 0 });
        await knex.destroy();
      }
    });
  });
}
