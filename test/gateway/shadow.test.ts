import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { describeOrSkip, LegacyBrowser, legacyPhpUnavailableReason, startLegacyPhp, type LegacyPhp } from '../../scripts/support/legacy-php.ts';
import { freePort, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { eventually, INTERNAL_SECRET, LOGIN_DECISION, startTestGateway, startUpstream, ADMIN_TOKEN, type TestGateway } from '../support/gateway.ts';
import { sample } from '../support/prometheus-text.ts';

const ROUTES = 'routes:\n  - { name: app, paths: ["/*"], default: shadow }\n';

test('shadow: a slow shadow changes neither the status nor the latency of the answer; it is compared once it answers', async () => {
  const held: ServerResponse[] = [];
  const legacy = await startUpstream('legacy', (_req, res) => {
    res.statusCode = 201;
    res.end('from legacy');
  });
  const slow = await startUpstream('new', (_req, res) => {
    held.push(res); // answers only when the test says so
  });
  const gateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: slow.url, GATEWAY_SHADOW_TIMEOUT_MS: '60000' });
  try {
    const res = await fetch(`${gateway.url}/thing`, { method: 'POST', body: 'payload' });
    assert.equal(res.status, 201);
    assert.equal(await res.text(), 'from legacy');
    // The user has the full answer, and the shadow copy is still waiting: the user never waited for it.
    assert.ok(await eventually(() => held.length === 1, 2_000));
    assert.equal(slow.seen[0]?.body, 'payload', 'the shadow got the same body');
    assert.equal(sample(await gateway.metrics(), 'gateway_shadow_in_flight', {}), 1);

    const again = await fetch(`${gateway.url}/thing`);
    assert.equal(again.status, 201, 'a held shadow does not hold the next request either');
    await again.text();

    for (const r of held.splice(0)) {
      r.statusCode = 200;
      r.end('new');
    }
    assert.ok(
      await eventually(async () => sample(await gateway.metrics(), 'gateway_shadow_comparisons_total', { route: 'app', result: 'agreed' }) === 2, 2_000),
    );
    assert.equal(sample(await gateway.metrics(), 'gateway_shadow_in_flight', {}), 0);
  } finally {
    for (const r of held) r.destroy();
    await gateway.stop();
    await Promise.all([legacy.close(), slow.close()]);
  }
});

test('shadow: a dead or timing-out shadow is counted as an error and the user still gets legacy; past the cap copies are dropped', async () => {
  const held: ServerResponse[] = [];
  const legacy = await startUpstream('legacy');
  const deadPort = await freePort();
  const dead = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: `http://127.0.0.1:${deadPort}` });
  const silent = await startUpstream('new', (_req, res) => held.push(res));
  const capped = await startTestGateway(ROUTES, {
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: silent.url,
    GATEWAY_SHADOW_TIMEOUT_MS: '300',
    GATEWAY_SHADOW_MAX_IN_FLIGHT: '2',
  });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${dead.url}/x`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-served-by'), 'legacy');
      await res.text();
    }
    assert.ok(await eventually(async () => sample(await dead.metrics(), 'gateway_shadow_comparisons_total', { route: 'app', result: 'error' }) === 3, 2_000));

    const answers = await Promise.all(Array.from({ length: 5 }, () => fetch(`${capped.url}/y`).then(async (r) => [r.status, await r.text()])));
    for (const a of answers) assert.deepEqual(a, [200, 'legacy /y']);
    const m = await capped.metrics();
    assert.equal(sample(m, 'gateway_shadow_comparisons_total', { route: 'app', result: 'dropped' }), 3, 'past the cap of 2, copies are dropped');
    // The two held copies time out (300 ms) and free their slots.
    assert.ok(await eventually(async () => sample(await capped.metrics(), 'gateway_shadow_comparisons_total', { route: 'app', result: 'error' }) === 2, 5_000));
    assert.equal(sample(await capped.metrics(), 'gateway_shadow_in_flight', {}), 0);
  } finally {
    for (const r of held) r.destroy();
    await Promise.all([dead.stop(), capped.stop()]);
    await Promise.all([legacy.close(), silent.close()]);
  }
});

/** A stand-in for the legacy login.php: alice/right logs in (302 account.php), the rest get the form again. */
function legacyLogin() {
  return startUpstream('legacy', (req, res, body) => {
    if (req.method !== 'POST') return void res.end('<form id="login-form"></form>');
    const form = new URLSearchParams(body);
    if (form.get('csrf_token') !== 'ok') {
      res.statusCode = 400;
      return void res.end('Your form expired');
    }
    if (form.get('login')?.trim() === 'alice' && form.get('password') === 'right password') {
      res.writeHead(302, { location: 'account.php', 'set-cookie': 'PHPSESSID=abc; path=/; HttpOnly' });
      return void res.end();
    }
    res.end('<p class="error" id="login-error">Invalid username or password.</p>');
  });
}

test('shadow on the login route compares login decisions (agreed / disagreed), never logs credentials, never slows the login', async () => {
  const legacy = await legacyLogin();
  const checks: Array<{ auth: string | undefined; body: unknown }> = [];
  let holdNext = false;
  const held: ServerResponse[] = [];
  // Test double of the idp's POST /internal/v1/login-check (the real one is exercised in legacy-php.test.ts).
  const idp = await startUpstream('idp', (req, res, body) => {
    if (req.url !== '/internal/v1/login-check' || req.method !== 'POST') {
      res.statusCode = 404;
      return void res.end();
    }
    checks.push({ auth: req.headers.authorization, body: JSON.parse(body) });
    if (holdNext) return void held.push(res);
    const { login, password } = JSON.parse(body) as { login: string; password: string };
    // The new side disagrees about bob (say, a hash scheme it does not know yet).
    const ok = (login === 'alice' && password === 'right password') || login === 'bob';
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'gateway-login-shadow-'));
  writeFileSync(join(dir, 'routes.yaml'), `routes:\n  - { name: login, paths: [/login.php], default: shadow, shadow: login-decision, ${LOGIN_DECISION} }\n`);
  const gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    GATEWAY_ROUTES_FILE: join(dir, 'routes.yaml'),
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: idp.url,
    IDP_INTERNAL_SECRET: INTERNAL_SECRET,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    DATABASE_URL: `sqlite:${join(dir, 'g.sqlite')}`,
    LOG_LEVEL: 'trace',
    // Budgets out of the way: this test is about what is compared (the budgets have their own test).
    GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: '1000',
    GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: '1000',
  });
  const post = async (fields: Record<string, string>) => {
    const res = await fetch(`${gateway.url}/login.php`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
    await res.text();
    return res;
  };
  const count = async (result: string) =>
    sample(await (await fetch(`${gateway.opsUrl}/metrics`)).text(), 'gateway_shadow_comparisons_total', { route: 'login', result });
  try {
    const ok = await post({ csrf_token: 'ok', login: '  alice ', password: 'right password' });
    assert.equal(ok.status, 302);
    assert.equal(ok.headers.get('location'), 'account.php');
    assert.match(ok.headers.get('set-cookie') ?? '', /PHPSESSID=abc/);
    assert.equal((await post({ csrf_token: 'ok', login: 'alice', password: 'wrong password' })).status, 200);
    assert.equal((await post({ csrf_token: 'ok', login: 'bob', password: 'bob secret pw' })).status, 200);
    assert.equal((await post({ csrf_token: 'expired', login: 'carol', password: 'carol secret pw' })).status, 400);
    assert.equal((await post({ csrf_token: 'ok', login: 'dave', password: '' })).status, 200);
    const page = await fetch(`${gateway.url}/login.php`);
    assert.equal(page.status, 200);
    await page.text();

    assert.ok(
      await eventually(async () => (await count('agreed')) === 2 && (await count('disagreed')) === 1 && (await count('skipped')) === 2, 3_000),
      'agreed 2 (alice right, alice wrong), disagreed 1 (bob), skipped 2 (expired form, empty password)',
    );
    assert.deepEqual(checks[0], { auth: `Bearer ${INTERNAL_SECRET}`, body: { login: 'alice', password: 'right password' } });
    assert.equal(
      checks.length,
      3,
      'neither the expired form (legacy decided nothing) nor the empty password reached the idp; the form page (GET) is not compared',
    );

    // A login-check that hangs does not hold the user's login.
    holdNext = true;
    const fast = await post({ csrf_token: 'ok', login: 'alice', password: 'right password' });
    assert.equal(fast.status, 302);
    assert.ok(await eventually(() => held.length === 1, 2_000), 'the login-check is still pending after the user got the answer');

    const output = gateway.output();
    assert.match(output, /shadow disagreed with legacy/);
    for (const secret of ['right password', 'wrong password', 'bob secret pw', 'carol secret pw', INTERNAL_SECRET])
      assert.ok(!output.includes(secret), `the logs hold a credential: ${secret}`);
  } finally {
    for (const r of held) r.destroy();
    await gateway.stop();
    await Promise.all([legacy.close(), idp.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

// The real sample monolith, legacy-adapter and idp behind the shadow: every login check the idp
// runs shows in its own idp_logins_total{dry_run="true"}, so "no check" is counted, not assumed.
const phpReason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('shadow login checks against the real monolith and idp: only decided logins, within budgets', phpReason, () => {
  let php: LegacyPhp;
  let adapter: SpawnedService;
  let idp: SpawnedService;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-shadow-budget-'));
  const routes = `routes:\n  - { name: login, paths: [/login.php], default: shadow, shadow: login-decision, ${LOGIN_DECISION} }\n  - { name: site, paths: ["/*"] }\n`;
  const gatewayWith = (env: Record<string, string>) =>
    startTestGateway(routes, { LEGACY_UPSTREAM_URL: php.url, IDP_UPSTREAM_URL: idp.url, GATEWAY_SHADOW_TIMEOUT_MS: '20000', ...env });
  const idpChecks = async () => sample(await (await fetch(`${idp.opsUrl}/metrics`)).text(), 'idp_logins_total', { dry_run: 'true' });
  const shadowed = async (gateway: TestGateway, result: string) =>
    sample(await gateway.metrics(), 'gateway_shadow_comparisons_total', { route: 'login', result });
  /** A real login form post through `gateway`: the form's own CSRF token, from `client` (X-Forwarded-For). */
  const postLogin = async (gateway: TestGateway, fields: Record<string, string>, client?: string) => {
    const browser = new LegacyBrowser(gateway.url);
    const csrf_token = await browser.csrfToken('login.php');
    return browser.request('login.php', {
      method: 'POST',
      body: new URLSearchParams({ csrf_token, ...fields }),
      headers: client ? { 'x-forwarded-for': client } : {},
    });
  };

  before(async () => {
    php = await startLegacyPhp({ db: 'sqlite' });
    adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', { LEGACY_DATABASE_URL: php.db.url });
    idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', {
      DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`,
      LEGACY_ADAPTER_URL: adapter.url,
      IDP_INTERNAL_SECRET: INTERNAL_SECRET,
      PBKDF2_ITERATIONS: '1000',
    });
  });
  after(async () => {
    await Promise.all([idp?.stop(), adapter?.stop()]);
    await php?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('junk posts the legacy form decided nothing about never reach the idp', async () => {
    const gateway = await gatewayWith({ GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: '1000', GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: '1000' });
    try {
      const before = await idpChecks();
      const junk = async (fields: Record<string, string>, status: number) => {
        const res = await fetch(`${gateway.url}/login.php`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
        assert.equal(res.status, status, JSON.stringify(Object.keys(fields)));
        await res.text();
      };
      // No CSRF token (the form refuses it before looking at the credentials): 400, no decision.
      for (let i = 0; i < 5; i++) await junk({ login: 'alice', password: `guess ${i}` }, 400);
      await junk({ csrf_token: 'forged', login: 'alice', password: 'guess' }, 400);
      // A real form with a field missing: PHP shows the form again; nothing for the idp to check.
      assert.equal((await postLogin(gateway, { login: 'alice' })).status, 200);
      assert.equal((await postLogin(gateway, { user: 'alice', pass: 'guess' })).status, 200);
      assert.ok(await eventually(async () => (await shadowed(gateway, 'skipped')) === 8, 20_000), 'all eight settled as skipped');
      assert.equal(await idpChecks(), before, 'the idp ran no login check for any of them');
      // A decided login still is compared (the route works; the junk was not simply lost).
      assert.equal((await postLogin(gateway, { login: 'alice', password: 'wrong password' })).status, 200);
      assert.ok(await eventually(async () => (await shadowed(gateway, 'agreed')) === 1, 20_000));
      assert.equal(await idpChecks(), before + 1);
    } finally {
      await gateway.stop();
    }
  });

  test('a flood of decided logins past GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND is shed and counted', async () => {
    // 0.01 per second: one check, then none for 100 s, far longer than this test takes.
    const gateway = await gatewayWith({ GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: '0.01', GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: '1000' });
    try {
      const before = await idpChecks();
      for (let i = 0; i < 5; i++) assert.equal((await postLogin(gateway, { login: 'alice', password: `wrong ${i}` }, `198.51.100.${i + 1}`)).status, 200);
      assert.ok(await eventually(async () => (await shadowed(gateway, 'agreed')) + (await shadowed(gateway, 'shed')) === 5, 20_000), 'all five settled');
      assert.deepEqual({ agreed: await shadowed(gateway, 'agreed'), shed: await shadowed(gateway, 'shed') }, { agreed: 1, shed: 4 });
      assert.equal(await idpChecks(), before + 1, 'the idp hashed once');
    } finally {
      await gateway.stop();
    }
  });

  test('one client address past GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE is throttled; another is not', async () => {
    // One a minute per client: the second and third from the same address come well within it.
    const gateway = await gatewayWith({ GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: '1000', GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: '1' });
    try {
      const before = await idpChecks();
      for (let i = 0; i < 3; i++) assert.equal((await postLogin(gateway, { login: 'alice', password: `wrong ${i}` }, '203.0.113.7')).status, 200);
      // The client's own claim left of a trusted proxy's entry is not who it is: the proxy's entry is.
      assert.equal((await postLogin(gateway, { login: 'alice', password: 'wrong again' }, '203.0.113.7, 203.0.113.8')).status, 200);
      assert.ok(await eventually(async () => (await shadowed(gateway, 'agreed')) + (await shadowed(gateway, 'throttled')) === 4, 20_000), 'all four settled');
      assert.deepEqual({ agreed: await shadowed(gateway, 'agreed'), throttled: await shadowed(gateway, 'throttled') }, { agreed: 2, throttled: 2 });
      assert.equal(await idpChecks(), before + 2);
    } finally {
      await gateway.stop();
    }
  });

  test('an IPv6 client is counted per /64: addresses of one /64 share its budget, another /64 has its own', async () => {
    const gateway = await gatewayWith({ GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: '1000', GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: '1' });
    try {
      const before = await idpChecks();
      for (const [i, client] of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::9', '2001:db8:1:3::1'].entries())
        assert.equal((await postLogin(gateway, { login: 'alice', password: `wrong ${i}` }, client)).status, 200);
      assert.ok(await eventually(async () => (await shadowed(gateway, 'agreed')) + (await shadowed(gateway, 'throttled')) === 4, 20_000), 'all four settled');
      assert.deepEqual({ agreed: await shadowed(gateway, 'agreed'), throttled: await shadowed(gateway, 'throttled') }, { agreed: 2, throttled: 2 });
      assert.equal(await idpChecks(), before + 2);
    } finally {
      await gateway.stop();
    }
  });
});
