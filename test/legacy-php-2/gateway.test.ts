// The gateway in front of the second sample monolith with its example routes file
// (gateway/routes-legacy-php-2.yaml), and the idp and legacy-adapter on its mapping: its login
// form, ?redirect=, account page and API work through the gateway; the API's trusted-proxy
// header cannot be forged through it; shadow mode agrees with PHP for every hash era.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, eventually, INTERNAL_SECRET } from '../support/gateway.ts';
import { describeOrSkip, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { demoMember, LEGACY_PHP_2_MAPPING, MEMBERS_DEMO, MembersBrowser, startLegacyPhp2, type LegacyPhp2 } from '../support/legacy-php-2.ts';
import { repoRoot, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { sample } from '../support/prometheus-text.ts';

const reason = await legacyPhpUnavailableReason({ db: 'sqlite', sessionStore: 'redis' });

describeOrSkip('gateway in front of legacy-php-2, configured by files and variables only', reason, () => {
  let site: LegacyPhp2;
  let adapter: SpawnedService;
  let idp: SpawnedService;
  let gateway: SpawnedService;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-php2-'));

  before(async () => {
    // As deployed: the site believes X-Remote-User from the gateway's address.
    site = await startLegacyPhp2({ db: 'sqlite', trustedProxies: ['127.0.0.1'] });
    adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', { LEGACY_DATABASE_URL: site.db.url, LEGACY_MAPPING_FILE: LEGACY_PHP_2_MAPPING });
    idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', {
      DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`,
      LEGACY_ADAPTER_URL: adapter.url,
      IDP_INTERNAL_SECRET: INTERNAL_SECRET,
    });
    gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
      GATEWAY_ROUTES_FILE: join(repoRoot, 'gateway/routes-legacy-php-2.yaml'),
      LEGACY_UPSTREAM_URL: site.url,
      LEGACY_HEALTH_PATH: '/api/ping.php',
      IDP_UPSTREAM_URL: idp.url,
      IDP_INTERNAL_SECRET: INTERNAL_SECRET,
      GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`,
      // The idp spends a full PBKDF2 on every check, on purpose; a loaded machine is slow.
      GATEWAY_SHADOW_TIMEOUT_MS: '20000',
      GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: '1000',
      GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: '1000',
    });
  });

  after(async () => {
    await Promise.all([gateway?.stop(), idp?.stop(), adapter?.stop()]);
    await site?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('log in with ?redirect=, see the account page and the orders, log out, all through the gateway', async () => {
    const anna = demoMember('anna');
    const browser = new MembersBrowser({ url: gateway.url, sessionName: site.sessionName });
    const login = await browser.login(anna.handle, anna.password, '/api/orders.php');
    assert.equal(login.status, 302, login.body.slice(0, 300));
    assert.equal(login.headers.get('location'), '/api/orders.php');
    assert.ok(browser.sessionId(), 'the site cookie is set through the gateway');

    const orders = await browser.get('api/orders.php');
    assert.equal(orders.status, 200);
    assert.deepEqual(JSON.parse(orders.body).member, { id: 1, handle: 'anna' });
    assert.match((await browser.get('account.php')).body, /id="member-handle">anna</);

    assert.equal((await browser.get('logout.php')).status, 302);
    assert.equal((await browser.get('api/orders.php')).status, 401);
  });

  test("a client's X-Remote-User never reaches the site, which would believe it from the gateway", async () => {
    // The site does believe the header from this address (the control): only the gateway stands between.
    const direct = await fetch(`${site.url}/api/orders.php`, { headers: { 'x-remote-user': 'emma' } });
    assert.equal(direct.status, 200);

    const forged = await fetch(`${gateway.url}/api/orders.php`, { headers: { 'x-remote-user': 'emma' } });
    assert.equal(forged.status, 401);
    const anna = demoMember('anna');
    const browser = new MembersBrowser({ url: gateway.url, sessionName: site.sessionName });
    await browser.login(anna.handle, anna.password);
    const own = await browser.request('api/orders.php', { headers: { 'X-Remote-User': 'emma' } });
    assert.deepEqual(JSON.parse(own.body).member, { id: 1, handle: 'anna' });
  });

  test('shadow on login.php: the idp on the legacy-php-2 mapping agrees with PHP for every hash era, banned and wrong', async () => {
    const flip = await fetch(`${gateway.url}/admin/api/routes/login/flag`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'shadow', reason: 'compare the new login with PHP' }),
    });
    assert.equal(flip.status, 200, await flip.text());

    const attempts: Array<[string, string, number]> = [
      ...MEMBERS_DEMO.map((m): [string, string, number] => [m.handle, m.password, m.banned ? 200 : 302]),
      ['anna', 'not her password', 200],
      ['nobody-at-all', 'sunshine04', 200],
    ];
    for (const [handle, pass, status] of attempts) {
      const answer = await new MembersBrowser({ url: gateway.url, sessionName: site.sessionName }).login(handle, pass);
      assert.equal(answer.status, status, `${handle}: PHP still answers in shadow mode`);
    }
    const count = async (result: string) => sample(await (await fetch(`${gateway.opsUrl}/metrics`)).text(), 'gateway_shadow_comparisons_total', { route: 'login', result });
    const settled = await eventually(async () => (await count('agreed')) + (await count('disagreed')) + (await count('error')) >= attempts.length, 60_000, 100);
    assert.ok(settled, 'every login was compared');
    assert.deepEqual({ agreed: await count('agreed'), disagreed: await count('disagreed'), error: await count('error') }, { agreed: attempts.length, disagreed: 0, error: 0 });
    for (const member of MEMBERS_DEMO) assert.ok(!gateway.output().includes(member.password), 'the gateway never logs a password');
  });
});
