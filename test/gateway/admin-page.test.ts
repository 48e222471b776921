import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { repoRoot } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN, LOGIN_DECISION, startTestGateway, startUpstream } from '../support/gateway.ts';

const CHROMIUM = '/usr/bin/chromium';

test('admin page in headless Chromium: log in, flip a route with a reason and a confirmation, see it in the audit log', async (t) => {
  if (!existsSync(CHROMIUM)) {
    console.warn(`\n*** SKIPPED: Chromium not found at ${CHROMIUM} (apt-get install chromium); the admin page browser test did NOT run ***\n`);
    return t.skip(`Chromium not found at ${CHROMIUM}`);
  }
  const legacy = await startUpstream('legacy');
  const next = await startUpstream('new');
  const gateway = await startTestGateway(
    `routes:\n  - { name: login, paths: [/login.php], shadow: login-decision, ${LOGIN_DECISION} }\n  - { name: site, paths: ["/*"] }\n`,
    { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: next.url },
  );
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      // The login page is served with 401 on purpose; anything else (a CSP violation) is a problem.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));

    const first = await page.goto(`${gateway.url}/admin`);
    assert.equal(first?.status(), 401);
    const csp = first?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|script-src/);

    await page.fill('#token', 'not the token');
    await page.fill('#name', 'Olga Ops');
    await page.click('button[type=submit]');
    assert.equal(await page.textContent('#login-error'), 'Wrong admin token.');

    await page.fill('#token', ADMIN_TOKEN);
    await page.fill('#name', 'Olga Ops');
    await page.click('button[type=submit]');
    await page.waitForSelector('#routes');
    assert.equal(await page.textContent('#who'), 'Olga Ops');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'gw_admin');
    assert.ok(session);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.ok(!session.value.includes(ADMIN_TOKEN), 'the cookie holds a signed session, not the token');
    assert.match((await page.textContent('#route-login .mode')) ?? '', /^legacy/);

    const row = page.locator('#route-login');
    await row.locator('select[name=mode]').selectOption('canary');
    await row.locator('input[name=percent]').fill('15');
    await row.locator('input[name=reason]').fill('first 15% of logins on the idp');
    await row.locator('button[type=submit]').click();
    await page.waitForSelector('#confirm');
    assert.equal(await page.textContent('#confirm-to'), 'canary 15%');
    assert.equal((await gateway.admin('GET', '/routes/login')).json.mode, 'legacy', 'nothing flips before the confirmation');
    await page.click('#confirm-flip');
    await page.waitForSelector('#notice');
    assert.equal(await page.textContent('#notice'), 'Route login flipped.');
    assert.match((await page.textContent('#route-login .mode')) ?? '', /^canary 15%/);
    const auditRow = page.locator('#audit tbody tr').first();
    const cells = await auditRow.locator('td').allTextContents();
    assert.deepEqual(cells.slice(1), ['Olga Ops', 'page', 'login', 'legacy', 'canary 15%', 'first 15% of logins on the idp']);

    mkdirSync(join(repoRoot, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'test-artifacts/gateway-admin.png'), fullPage: true });

    // The API agrees with the page.
    const api = await gateway.admin('GET', '/routes/login');
    assert.deepEqual([api.json.mode, api.json.percent], ['canary', 15]);

    // A form without its CSRF token (a forged cross-site post) is refused, even with the session cookie.
    const forged = await page.request.post(`${gateway.url}/admin/flip/confirm`, { form: { route: 'login', mode: 'idp', reason: 'forged' } });
    assert.equal(forged.status(), 403);
    const crossSite = await page.request.post(`${gateway.url}/admin/flip/confirm`, {
      form: { route: 'login', mode: 'idp', reason: 'forged' },
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(crossSite.status(), 403);
    assert.equal((await gateway.admin('GET', '/routes/login')).json.mode, 'canary');

    await page.click('text=Log out');
    await page.waitForSelector('#login-form');
    assert.deepEqual(problems, [], 'no console errors (a CSP violation would show here)');
  } finally {
    await browser.close();
    await gateway.stop();
    await Promise.all([legacy.close(), next.close()]);
  }
});
