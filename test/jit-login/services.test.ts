// The real processes: the sample PHP monolith seeded on MariaDB by its own seed.php, the
// legacy-adapter and the idp started as in production, talking HTTP with their secrets.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createDatabase } from '../../lib/db.ts';
import { verifyPassword } from '../../lib/passwords/index.ts';
import {
  LEGACY_DEMO_USERS,
  LEGACY_DEMO_PASSWORD,
  LegacyBrowser,
  legacyPhpUnavailableReason,
  startLegacyPhp,
  type LegacyPhp,
} from '../../scripts/support/legacy-php.ts';
import { startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { ADAPTER_SECRET } from '../../scripts/support/legacy-adapter.ts';
import { sample } from '../support/prometheus-text.ts';

const IDP_SECRET = 'test-idp-internal-secret-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'idm-jit-'));
let php: LegacyPhp | undefined;
let adapter: SpawnedService | undefined;
let idp: SpawnedService | undefined;
const skipReason = await legacyPhpUnavailableReason({ db: 'mysql' });

before(async () => {
  if (skipReason) return;
  php = await startLegacyPhp({ db: 'mysql' });
  adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', {
    LEGACY_DATABASE_URL: php.db.url,
    LEGACY_MAPPING_FILE: 'legacy-adapter/mappings/legacy-php.yaml',
    LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
  });
  idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', {
    DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`,
    LEGACY_ADAPTER_URL: adapter.url,
    LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
    IDP_INTERNAL_SECRET: IDP_SECRET,
    PBKDF2_ITERATIONS: '1000',
  });
});

after(async () => {
  const codes = await Promise.all([idp?.stop(), adapter?.stop()]);
  await php?.stop();
  rmSync(dir, { recursive: true, force: true });
  if (!skipReason) assert.deepEqual(codes, [0, 0], 'both services exit 0 on SIGTERM');
});

function post(base: string, path: string, body: unknown, secret?: string): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

test('the legacy-adapter authenticates every seeded PHP user through the mapping and never answers a hash', async (t) => {
  if (skipReason || !adapter || !php) return t.skip(`SKIPPED: ${skipReason}`);
  const url = adapter.url;
  assert.equal((await post(url, '/internal/v1/authenticate', { login: 'alice', password: LEGACY_DEMO_PASSWORD })).status, 401);
  assert.equal((await post(url, '/internal/v1/authenticate', { login: 'alice', password: LEGACY_DEMO_PASSWORD }, 'wrong')).status, 401);
  const legacyDb = createDatabase(php.db.url);
  try {
    for (const user of LEGACY_DEMO_USERS) {
      const res = await post(url, '/internal/v1/authenticate', { login: user.login.toUpperCase(), password: LEGACY_DEMO_PASSWORD }, ADAPTER_SECRET);
      assert.equal(res.status, 200);
      const text = await res.text();
      const row = (await legacyDb('users').where('user_login', user.login).first()) as { user_id: number; user_pass: string };
      assert.ok(!text.includes(row.user_pass), `${user.login}: no hash in the answer`);
      const body = JSON.parse(text);
      if (!user.active) {
        assert.deepEqual(body, { ok: false }, user.login);
        continue;
      }
      assert.equal(body.ok, true, `${user.login} (${user.scheme})`);
      assert.deepEqual(body.user, { legacyId: String(row.user_id), username: user.login, email: user.email, name: user.displayName, active: true });
      const wrong = await post(url, '/internal/v1/authenticate', { login: user.login, password: `X${LEGACY_DEMO_PASSWORD}` }, ADAPTER_SECRET);
      assert.deepEqual(await wrong.json(), { ok: false });
    }
  } finally {
    await legacyDb.destroy();
  }
  const lookup = await post(url, '/internal/v1/users/lookup', { email: 'DAVE@example.com' }, ADAPTER_SECRET);
  assert.deepEqual(await lookup.json(), {
    users: [{ legacyId: '4', username: 'dave', email: 'dave@example.com', name: "Dave O'Brien <Ops & Infra>", active: true }],
  });
  const judy = await post(url, '/internal/v1/users/lookup', { login: 'judy' }, ADAPTER_SECRET);
  assert.equal(((await judy.json()) as { users: { active: boolean }[] }).users[0]?.active, false);
  assert.deepEqual(await (await post(url, '/internal/v1/users/lookup', { login: 'nobody' }, ADAPTER_SECRET)).json(), { users: [] });
  // withImport (the idp's password reset): the batch migration's record, legacy hash and all.
  const withImport = (await (await post(url, '/internal/v1/users/lookup', { login: 'erin', withImport: true }, ADAPTER_SECRET)).json()) as {
    users: { legacyId: string; import?: Record<string, unknown> }[];
  };
  assert.equal(withImport.users[0]?.legacyId, '5');
  // phpass is cheap: wrapped in PBKDF2 as the batch migration wraps it (issue 15), so a
  // just-in-time import brings no weak hash into the idp's store either; the password still works.
  const record = withImport.users[0]?.import as { passwordHash: string; passwordScheme: string; passwordSalt: string | null };
  assert.equal(record.passwordScheme, 'wrapped-pbkdf2-sha256');
  assert.match(record.passwordHash, /^\$wrapped-pbkdf2-sha256\$/);
  assert.equal((await verifyPassword(LEGACY_DEMO_PASSWORD, { hash: record.passwordHash, salt: record.passwordSalt })).ok, true);
  assert.equal((await verifyPassword(`${LEGACY_DEMO_PASSWORD}x`, { hash: record.passwordHash, salt: record.passwordSalt })).ok, false);
  assert.equal((await post(url, '/internal/v1/users/lookup', { login: 'erin', withImport: false }, ADAPTER_SECRET)).status, 400, 'only true asks for it');

  // Bad requests are named without echoing what was sent (it may hold a password).
  const bad = await post(url, '/internal/v1/authenticate', { login: 'alice', password: 42 }, ADAPTER_SECRET);
  assert.equal(bad.status, 400);
  const broken = await post(url, '/internal/v1/authenticate', '{"login":"alice","password":"s3cr3t-in-broken-json', ADAPTER_SECRET);
  assert.equal(broken.status, 400);
  assert.doesNotMatch(await broken.text(), /s3cr3t/);

  const metrics = await (await fetch(`${adapter.opsUrl}/metrics`)).text();
  assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'success', scheme: 'argon2id' }), 1);
  assert.equal(sample(metrics, 'legacy_adapter_authentications_total', { result: 'inactive' }), 1);
  assert.equal(sample(metrics, 'legacy_adapter_lookups_total', { kind: 'email', result: 'found' }), 1);
  assert.ok(!adapter.output().includes(LEGACY_DEMO_PASSWORD), 'no password in the logs');
});

test("the idp's login-check (the gateway's shadow mode) wants its secret, answers {ok} only, and writes nothing", async (t) => {
  if (skipReason || !idp || !php) return t.skip(`SKIPPED: ${skipReason}`);
  const url = idp.url;
  assert.equal((await post(url, '/internal/v1/login-check', { login: 'alice', password: LEGACY_DEMO_PASSWORD })).status, 401);
  assert.equal((await post(url, '/internal/v1/login-check', { login: 'alice', password: LEGACY_DEMO_PASSWORD }, ADAPTER_SECRET)).status, 401);
  const ok = await post(url, '/internal/v1/login-check', { login: 'alice', password: LEGACY_DEMO_PASSWORD }, IDP_SECRET);
  assert.deepEqual([ok.status, await ok.json()], [200, { ok: true }]);
  for (const [login, password] of [
    ['alice', 'wrong'],
    ['judy', LEGACY_DEMO_PASSWORD],
    ['nobody', LEGACY_DEMO_PASSWORD],
  ]) {
    assert.deepEqual(await (await post(url, '/internal/v1/login-check', { login, password }, IDP_SECRET)).json(), { ok: false }, login);
  }
  assert.equal((await post(url, '/internal/v1/login-check', { login: 'alice' }, IDP_SECRET)).status, 400);
  const idpDb = createDatabase(`sqlite:${join(dir, 'idp.sqlite')}`);
  try {
    assert.equal(Number((await idpDb('users').count({ n: '*' }).first())?.n), 0, 'a dry run imports nobody');
  } finally {
    await idpDb.destroy();
  }
  const metrics = await (await fetch(`${idp.opsUrl}/metrics`)).text();
  assert.equal(sample(metrics, 'idp_logins_total', { dry_run: 'true', result: 'success', scheme: 'bcrypt-2y' }), 1);
  assert.equal(sample(metrics, 'idp_legacy_lookups_total', { result: 'found' }), 1);
  assert.match(metrics, /^idp_users_by_password_scheme|# TYPE idp_users_by_password_scheme gauge/m);
  // The monolith itself is untouched: alice still logs in there.
  const browser = new LegacyBrowser(php.url);
  assert.equal((await browser.login('alice', LEGACY_DEMO_PASSWORD)).status, 302);
  assert.ok(!idp.output().includes(LEGACY_DEMO_PASSWORD), 'no password in the logs');
});
