// Logging in to the legacy PHP site through its own form, on MariaDB and on SQLite,
// for every seeded user (one per legacy password scheme).
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  LEGACY_DEMO_PASSWORD,
  LEGACY_DEMO_USERS,
  describeOrSkip,
  LegacyBrowser,
  legacyKnex,
  legacyPhpUnavailableReason,
  startLegacyPhp,
  type LegacyPhp,
  type LegacyScheme,
} from '../../scripts/support/legacy-php.ts';

const GENERIC_ERROR = 'Invalid username or password.';

const schemePattern: Record<LegacyScheme, RegExp> = {
  bcrypt: /^\$2y\$10\$/,
  'bcrypt-2a': /^\$2a\$10\$/,
  argon2id: /^\$argon2id\$/,
  md5: /^[0-9a-f]{32}$/,
  'md5-salt': /^[0-9a-f]{32}$/,
  sha1: /^[0-9a-f]{40}$/,
  'sha1-salt': /^[0-9a-f]{40}$/,
  sha256: /^[0-9a-f]{64}$/,
  'phpass-P': /^\$P\$B.{30}$/,
  'phpass-H': /^\$H\$9.{30}$/,
  'md5-crypt': /^\$1\$/,
  'sha256-crypt': /^\$5\$/,
  'sha512-crypt': /^\$6\$/,
  'des-crypt': /^[./0-9A-Za-z]{13}$/,
};

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#039;');
}

for (const kind of ['mysql', 'sqlite'] as const) {
  const reason = await legacyPhpUnavailableReason({ db: kind });

  describeOrSkip(`legacy PHP login (${kind})`, reason, () => {
    let php: LegacyPhp;

    before(async () => {
      php = await startLegacyPhp({ db: kind });
    });
    after(async () => {
      await php?.stop();
    });

    it('seeds one user per legacy scheme, salts only where the scheme has one', async () => {
      const db = legacyKnex(php);
      try {
        const rows: Array<{ user_login: string; user_pass: string; user_salt: string | null; is_active: number }> = await db('users')
          .select('user_login', 'user_pass', 'user_salt', 'is_active')
          .orderBy('user_id');
        assert.deepEqual(
          rows.map((r) => r.user_login),
          LEGACY_DEMO_USERS.map((u) => u.login),
        );
        for (const [i, user] of LEGACY_DEMO_USERS.entries()) {
          const row = rows[i]!;
          assert.match(row.user_pass, schemePattern[user.scheme], `${user.login} should be ${user.scheme}`);
          assert.equal(row.user_salt !== null, user.scheme.endsWith('-salt'), `${user.login} salt`);
          assert.equal(Number(row.is_active), user.active ? 1 : 0);
        }
      } finally {
        await db.destroy();
      }
    });

    for (const user of LEGACY_DEMO_USERS.filter((u) => u.active)) {
      it(`${user.login} (${user.scheme}) logs in with the demo password and sees the account page`, async () => {
        const browser = new LegacyBrowser(php.url);
        const form = await browser.get('login.php');
        assert.equal(form.status, 200);
        assert.match(form.body, /<form method="post" action="login.php"/);
        const anonymousSession = browser.sessionId();
        assert.ok(anonymousSession, 'the login form starts a session for its CSRF token');

        const response = await browser.login(user.login, LEGACY_DEMO_PASSWORD);
        assert.equal(response.status, 302, response.body);
        assert.equal(response.location?.pathname, '/account.php');
        const session = browser.sessionId();
        assert.ok(session, 'a session cookie is set');
        assert.notEqual(session, anonymousSession, 'session_regenerate_id on login');

        const account = await browser.get('account.php');
        assert.equal(account.status, 200);
        assert.match(account.body, new RegExp(`<td id="account-login">${user.login}</td>`));
        assert.match(account.body, new RegExp(`<td id="account-email">${user.email}</td>`));
        assert.ok(account.body.includes(`<td id="account-display-name">${escapeHtml(user.displayName)}</td>`), 'display name, escaped');
      });
    }

    it('logs in with the e-mail address instead of the login, case-insensitively', async () => {
      const browser = new LegacyBrowser(php.url);
      const response = await browser.login('Carol@Example.com', LEGACY_DEMO_PASSWORD);
      assert.equal(response.status, 302);
      const me = await browser.get('api/me.php');
      assert.equal(JSON.parse(me.body).login, 'carol');

      const upper = new LegacyBrowser(php.url);
      assert.equal((await upper.login('ALICE', LEGACY_DEMO_PASSWORD)).status, 302);
    });

    it('refuses a wrong password, an unknown user and an empty password with the same generic error', async () => {
      for (const [login, password] of [
        ['alice', 'correct horse battery stapler'],
        ['bob', 'Correct horse battery staple'],
        ['erin', 'wrong'],
        ['nobody-here', LEGACY_DEMO_PASSWORD],
        ['frank', ''],
      ] as const) {
        const browser = new LegacyBrowser(php.url);
        const response = await browser.login(login, password);
        assert.equal(response.status, 200, `${login}: no redirect`);
        assert.equal(response.location, null);
        assert.ok(response.body.includes(`<p class="error" id="login-error">${GENERIC_ERROR}</p>`), `${login}: generic error`);
        assert.equal((await browser.get('account.php')).location?.pathname, '/login.php', `${login}: not logged in`);
      }
    });

    it('refuses the inactive user even with the right password, with the generic error', async () => {
      const browser = new LegacyBrowser(php.url);
      const response = await browser.login('judy', LEGACY_DEMO_PASSWORD);
      assert.equal(response.status, 200);
      assert.ok(response.body.includes(GENERIC_ERROR));
      assert.equal((await browser.get('api/me.php')).status, 401);
    });

    it('DES crypt (ivan) only looks at the first 8 characters: a legacy quirk the migration must keep', async () => {
      const browser = new LegacyBrowser(php.url);
      assert.equal((await browser.login('ivan', 'correct WRONG')).status, 302);
      const other = new LegacyBrowser(php.url);
      assert.equal((await other.login('ivan', 'correcT horse battery staple')).status, 200);
    });

    it('rejects a login POST without the CSRF token (400) and logs nobody in', async () => {
      const browser = new LegacyBrowser(php.url);
      await browser.get('login.php');
      const response = await browser.postForm('login.php', { login: 'alice', password: LEGACY_DEMO_PASSWORD });
      assert.equal(response.status, 400);
      assert.equal(response.location, null);
      const forged = await browser.postForm('login.php', { login: 'alice', password: LEGACY_DEMO_PASSWORD, csrf_token: 'f'.repeat(32) });
      assert.equal(forged.status, 400);
      assert.equal((await browser.get('api/me.php')).status, 401);
    });

    it('shows the home page logged out and logged in, sends guests from account.php to login.php, 404s unknown paths', async () => {
      const browser = new LegacyBrowser(php.url);
      const home = await browser.get('');
      assert.equal(home.status, 200);
      assert.match(home.body, /id="logged-out"/);
      assert.equal(browser.sessionId(), undefined, 'no session for anonymous page views');
      const account = await browser.get('account.php');
      assert.equal(account.status, 302);
      assert.equal(account.location?.pathname, '/login.php');

      await browser.login('alice', LEGACY_DEMO_PASSWORD);
      const after = await browser.get('index.php');
      assert.match(after.body, /id="logged-in">Hello, Alice Anderson!/);

      for (const path of ['nope.php', 'router.php', '../config.php', 'includes/db.php', 'seed.php', 'api/nope.php']) {
        assert.equal((await browser.get(path)).status, 404, path);
      }
    });
  });
}
