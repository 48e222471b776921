// The gateway in front of the real sample PHP monolith (legacy-php/), with the shipped route
// file: logging in through the gateway works, and shadow mode compares PHP's login decisions
// with the real idp's login-check (backed by the real legacy-adapter).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  describeOrSkip,
  LEGACY_DEMO_PASSWORD,
  LegacyBrowser,
  legacyPhpUnavailableReason,
  startLegacyPhp,
  type LegacyPhp,
} from '../../scripts/support/legacy-php.ts';
import { startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN, eventually, INTERNAL_SECRET } from '../support/gateway.ts';
import { sample } from '../support/prometheus-text.ts';

const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('gateway in front of the real PHP monolith', reason, () => {
  let php: LegacyPhp;
  let adapter: SpawnedService;
  let idp: SpawnedService;
  let gateway: SpawnedService;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-php-'));

  before(async () => {
    php = await startLegacyPhp({ db: 'sqlite' });
    adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', { LEGACY_DATABASE_URL: php.db.url });
    idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', {
      DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`,
      LEGACY_ADAPTER_URL: adapter.url,
      IDP_INTERNAL_SECRET: INTERNAL_SECRET,
    });
    // The shipped gateway/routes.yaml (the default GATEWAY_ROUTES_FILE).
    gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
      LEGACY_UPSTREAM_URL: php.url,
      LEGACY_HEALTH_PATH: '/api/health.php',
      IDP_UPSTREAM_URL: idp.url,
      IDP_INTERNAL_SECRET: INTERNAL_SECRET,
      GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`, // shared with the idp, as in the embedded mode
      LOG_LEVEL: 'debug',
      // The idp spends a full PBKDF2 (600,000 iterations) even on unknown logins, on purpose;
      // on a busy test machine that can pass the 2 s default.
      GATEWAY_SHADOW_TIMEOUT_MS: '20000',
      // Six logins in a row from one address: every one is to be compared, none shed.
      GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: '1000',
      GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: '1000',
    });
  });

  after(async () => {
    await Promise.all([gateway?.stop(), idp?.stop(), adapter?.stop()]);
    await php?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('log in, see the account page, call the JSON API and log out, all through the gateway', async () => {
    const browser = new LegacyBrowser(gateway.url);
    const wrong = await browser.login('alice', 'not her password');
    assert.equal(wrong.status, 200);
    assert.match(wrong.body, /id="login-error">Invalid username or password\./);

    const ok = await browser.login('alice', LEGACY_DEMO_PASSWORD);
    assert.equal(ok.status, 302, ok.body.slice(0, 300));
    assert.equal(ok.headers.get('location'), 'account.php');
    assert.ok(browser.sessionId(), 'PHP session cookie set through the gateway');
    assert.ok(ok.headers.get('x-request-id'));

    const account = await browser.get('account.php');
    assert.equal(account.status, 200);
    assert.match(account.body, /id="account-login">alice</);
    const me = await browser.get('api/me.php');
    assert.equal(me.status, 200);
    assert.deepEqual(JSON.parse(me.body), { user_id: 1, login: 'alice', email: 'alice@example.com' });

    const out = await browser.get('logout.php');
    assert.equal(out.status, 302);
    assert.equal((await browser.get('account.php')).status, 302);

    const ready = await fetch(`${gateway.opsUrl}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
  });

  test('shadow on login.php: the real idp login-check agrees with PHP for right, wrong, inactive and legacy-hash logins', async () => {
    const flip = await fetch(`${gateway.url}/admin/api/routes/login/flag`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'shadow', reason: 'compare the new login with PHP' }),
    });
    assert.equal(flip.status, 200, await flip.text());

    const attempts: Array<[string, string, number]> = [
      ['alice', LEGACY_DEMO_PASSWORD, 302],
      ['alice', 'wrong password', 200],
      ['bob', LEGACY_DEMO_PASSWORD, 302], // bare md5
      ['erin', LEGACY_DEMO_PASSWORD, 302], // phpass $P$
      ['judy', LEGACY_DEMO_PASSWORD, 200], // inactive
      ['nobody-at-all', LEGACY_DEMO_PASSWORD, 200],
    ];
    for (const [login, password, status] of attempts) {
      const res = await new LegacyBrowser(gateway.url).login(login, password);
      assert.equal(res.status, status, `${login}: PHP still answers the user in shadow mode`);
    }
    const count = async (result: string) =>
      sample(await (await fetch(`${gateway.opsUrl}/metrics`)).text(), 'gateway_shadow_comparisons_total', { route: 'login', result });
    const settled = await eventually(async () => (await count('agreed')) + (await count('disagreed')) + (await count('error')) >= attempts.length, 20_000, 100);
    assert.ok(settled, 'every login was compared');
    assert.deepEqual(
      { agreed: await count('agreed'), disagreed: await count('disagreed'), error: await count('error') },
      { agreed: attempts.length, disagreed: 0, error: 0 },
    );
    assert.ok(!gateway.output().includes(LEGACY_DEMO_PASSWORD), 'the gateway never logs a password');
  });
});
