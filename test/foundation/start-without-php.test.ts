// A newcomer's first `npm start` on a machine without PHP: the sample legacy users are still
// there (seeded with node from hashes PHP made), the demo user signs in just in time through
// the gateway and her hash is upgraded, and the legacy pages say what to install.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { authorizeUrl, FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { LEGACY_DEMO_PASSWORD } from '../../scripts/support/legacy-php.ts';
import { freePort, repoRoot } from '../../scripts/support/processes.ts';
import { sample } from '../support/prometheus-text.ts';

const DEMO_REDIRECT = 'http://127.0.0.1/callback';

test('npm start without php seeds the demo users, signs alice in just in time and explains the PHP pages', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-nophp-'));
  const noPhpBin = mkdtempSync(join(tmpdir(), 'idm-nophp-bin-'));
  const ports: Record<string, string> = {};
  for (const name of ['GATEWAY_PORT', 'IDP_PORT', 'LEGACY_ADAPTER_PORT', 'GATEWAY_OPS_PORT', 'IDP_OPS_PORT', 'LEGACY_ADAPTER_OPS_PORT', 'LEGACY_PHP_PORT']) {
    ports[name] = String(await freePort());
  }
  // An empty directory as the whole PATH: `php` cannot be found; the services are started with process.execPath.
  const child = spawn(process.execPath, ['scripts/start-embedded.ts'], {
    cwd: repoRoot,
    env: { PATH: noPhpBin, HOME: dir, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', ...ports },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  try {
    await new Promise<void>((resolve, reject) => {
      const check = () => output.includes('embedded mode: running') && resolve();
      child.stdout.on('data', check);
      void exited.then(() => reject(new Error(`start-embedded exited before running:\n${output}`)));
    });
    assert.match(output, /php is not installed: demo users seeded with node/);
    assert.match(output, /demo user\s+alice/);

    const gateway = `http://localhost:${ports.GATEWAY_PORT}`;
    const browser = new FormClient(gateway);
    const auth = authorizeUrl('demo-app', DEMO_REDIRECT, 'openid');
    const page = await browser.follow(auth.url);
    assert.equal(page.res.status, 200, page.body);
    const uid = page.url.split('/').pop()!;
    const answer = await browser.follow(`/interaction/${uid}/login`, {
      form: { csrf: hiddenValue(page.body, 'csrf'), identifier: 'alice', password: LEGACY_DEMO_PASSWORD },
    });
    assert.ok(answer.url.startsWith(DEMO_REDIRECT) || /Allow/.test(answer.body), `alice was not signed in: ${answer.res.status} ${answer.url}\n${output}`);

    // Just in time: alice came from the legacy table and her PHP bcrypt hash was imported as PBKDF2.
    const metrics = await (await fetch(`http://127.0.0.1:${ports.IDP_OPS_PORT}/metrics`)).text();
    assert.equal(sample(metrics, 'idp_password_upgrades_total', { from_scheme: 'bcrypt-2y', result: 'imported' }), 1, metrics);

    const legacyPage = await fetch(`${gateway}/account.php`, { redirect: 'manual' });
    assert.equal(legacyPage.status, 503);
    assert.match(await legacyPage.text(), /php-cli php-sqlite3/);
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    rmSync(noPhpBin, { recursive: true, force: true });
    assert.equal(code, 0, output);
  }
});
