// The legacy-adapter's session bridge and legacy-session resolve on legacy-php-2's Redis sessions,
// configured by the mapping (php_serialize, keys uid/uname) and today's variables (the phpredis
// store and its prefix): a session the bridge writes is one the unchanged pages accept, and a
// session the site wrote is one the adapter reads as logged in.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { RunningService } from '../../lib/service.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { postJson } from '../../scripts/support/stack.ts';
import { describeOrSkip, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { demoMember, LEGACY_PHP_2_MAPPING, MembersBrowser, startLegacyPhp2, type LegacyPhp2 } from '../support/legacy-php-2.ts';

const reason = await legacyPhpUnavailableReason({ db: 'sqlite', sessionStore: 'redis' });

describeOrSkip('legacy-php-2 sessions through the legacy-adapter', reason, () => {
  let site: LegacyPhp2;
  let adapter: RunningService;

  before(async () => {
    site = await startLegacyPhp2({ db: 'sqlite' });
    adapter = await startAdapter(site.db.url, LEGACY_PHP_2_MAPPING, {
      LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
      LEGACY_SESSION_STORE: 'redis',
      LEGACY_REDIS_HOST: site.env.MEMBERS_REDIS_HOST!,
      LEGACY_REDIS_PORT: site.env.MEMBERS_REDIS_PORT!,
      LEGACY_SESSION_REDIS_PREFIX: site.sessionPrefix,
      LEGACY_SESSION_LIFETIME: '3600',
    });
  });
  after(async () => {
    await adapter?.stop();
    await site?.stop();
  });

  const browserWith = (sessionId: string) => {
    const browser = new MembersBrowser(site);
    browser.cookies.set(site.sessionName, sessionId);
    return browser;
  };

  it("a session the bridge writes logs the member in on the unchanged pages, and its delete logs them out", async () => {
    const clara = demoMember('clara');
    const created = await postJson(`${adapter.url}/internal/v1/sessions`, BRIDGE_SECRET, { legacyId: String(clara.id) });
    assert.equal(created.status, 201);
    const { sessionId } = (await created.json()) as { sessionId: string };
    // Exactly what lib/session.php's own login stores: is_admin from group_id by the mapping's value map.
    assert.equal(await site.redis.get(sessionId), 'a:3:{s:3:"uid";i:3;s:5:"uname";s:5:"clara";s:8:"is_admin";b:0;}');

    const account = await browserWith(sessionId).get('account.php');
    assert.equal(account.status, 200);
    assert.match(account.body, /id="member-handle">clara</);

    const byLogin = await postJson(`${adapter.url}/internal/v1/sessions`, BRIDGE_SECRET, { login: 'EMMA' });
    assert.equal(byLogin.status, 201);
    const emma = (await byLogin.json()) as { sessionId: string };
    assert.match((await browserWith(emma.sessionId).get('account.php')).body, /id="member-group">Administrator</);

    const banned = await postJson(`${adapter.url}/internal/v1/sessions`, BRIDGE_SECRET, { legacyId: String(demoMember('frank').id) });
    assert.equal(banned.status, 404);

    const deleted = await fetch(`${adapter.url}/internal/v1/sessions/${sessionId}`, { method: 'DELETE', headers: { authorization: `Bearer ${BRIDGE_SECRET}` } });
    assert.equal(deleted.status, 204);
    assert.equal((await browserWith(sessionId).get('account.php')).status, 302);
  });

  it('a session the site wrote at its own login resolves to the member; after its logout it does not', async () => {
    const dieter = demoMember('dieter');
    const browser = new MembersBrowser(site);
    assert.equal((await browser.login(dieter.handle, dieter.password)).status, 302);
    const sessionId = browser.sessionId()!;
    const resolve = async () => {
      const answer = await postJson(`${adapter.url}/internal/v1/legacy-sessions/resolve`, ADAPTER_SECRET, { sessionId });
      assert.equal(answer.status, 200);
      return (await answer.json()) as { ok: boolean; user?: { legacyId: string; username: string; email: string } };
    };
    const found = await resolve();
    assert.equal(found.ok, true);
    assert.deepEqual({ legacyId: found.user?.legacyId, username: found.user?.username, email: found.user?.email }, { legacyId: '4', username: 'dieter', email: dieter.mail });

    assert.equal((await browser.get('logout.php')).status, 302);
    assert.deepEqual(await resolve(), { ok: false });
  });
});
