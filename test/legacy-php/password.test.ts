// Legacy password checking (every scheme, against published vectors and an independent
// phpass implementation) and the change-password page, which must write password_hash() $2y$.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  LEGACY_DEMO_PASSWORD,
  describeOrSkip,
  LegacyBrowser,
  legacyKnex,
  legacyPhpUnavailableReason,
  phpAvailable,
  startLegacyPhp,
  type LegacyPhp,
} from '../../scripts/support/legacy-php.ts';

const checkScript = fileURLToPath(new URL('./fixtures/check-password.php', import.meta.url));

interface Case {
  password: string;
  user_pass: string;
  user_salt: string | null;
}

function runPhp(input: { check?: Case[]; phpass?: string[] }): { check: Array<{ ok: boolean; scheme: string }>; phpass: string[] } {
  return JSON.parse(execFileSync(process.env.PHP_BINARY || 'php', [checkScript], { input: JSON.stringify(input), encoding: 'utf8' }));
}

/** phpass portable hashing written from the algorithm, independently of the PHP code. */
const itoa64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function phpassEncode64(input: Buffer, count: number): string {
  let out = '';
  let i = 0;
  while (i < count) {
    let value = input[i++]!;
    out += itoa64[value & 0x3f];
    if (i < count) value |= input[i]! << 8;
    out += itoa64[(value >> 6) & 0x3f];
    if (i++ >= count) break;
    if (i < count) value |= input[i]! << 16;
    out += itoa64[(value >> 12) & 0x3f];
    if (i++ >= count) break;
    out += itoa64[(value >> 18) & 0x3f];
  }
  return out;
}
function phpassHash(password: string, setting: string): string {
  const rounds = 1 << itoa64.indexOf(setting[3]!);
  const salt = setting.slice(4, 12);
  const md5 = (...parts: Array<Buffer | string>) => createHash('md5').update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();
  let hash = md5(salt, password);
  for (let i = 0; i < rounds; i++) hash = md5(hash, password);
  return setting.slice(0, 12) + phpassEncode64(hash, 16);
}

const hex = (algorithm: string, text: string) => createHash(algorithm).update(text).digest('hex');

{
  const reason = phpAvailable() ? null : 'php CLI not found: install php-cli to run the legacy PHP tests';

  describeOrSkip('legacy_check_password', reason, () => {
    it('accepts each scheme for the right password and refuses a wrong one', () => {
      const pw = 'hashcat';
      const vectors: Array<[string, Case]> = [
        // Published example hashes (hashcat's example list) of "hashcat", plus our own hex digests.
        ['bcrypt', { password: pw, user_pass: '$2a$05$LhayLxezLhK1LhWvKxCyLOj0j1u.Kj0jZ0pEmm134uzrQlFvQJLF6', user_salt: null }],
        ['bcrypt', { password: pw, user_pass: '$2b$05$LhayLxezLhK1LhWvKxCyLOj0j1u.Kj0jZ0pEmm134uzrQlFvQJLF6', user_salt: null }],
        ['md5-crypt', { password: pw, user_pass: '$1$28772684$iEwNOgGugqO9.bIz5sk8k/', user_salt: null }],
        ['sha512-crypt', { password: pw, user_pass: '$6$52450745$k5ka2p8bFuSmoVT1tzOyyuaREkkKBcCNqoDKzYiJL9RaE8yMnPgh2XzzF0NDrUhgrcLwg78xs1w5pJiypEdFX/', user_salt: null }],
        ['des-crypt', { password: pw, user_pass: '48c/R8JAv757A', user_salt: null }],
        ['phpass', { password: pw, user_pass: '$P$984478476IagS59wHZvyQMArzfx58u.', user_salt: null }],
        ['phpass', { password: 'test12345', user_pass: '$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', user_salt: null }],
        ['md5', { password: pw, user_pass: hex('md5', pw), user_salt: null }],
        ['md5', { password: pw, user_pass: hex('md5', pw).toUpperCase(), user_salt: '' }],
        ['md5', { password: pw, user_pass: hex('md5', 'x7!' + pw), user_salt: 'x7!' }],
        ['sha1', { password: pw, user_pass: hex('sha1', pw), user_salt: null }],
        ['sha1', { password: pw, user_pass: hex('sha1', 'NaCl' + pw), user_salt: 'NaCl' }],
        ['sha256', { password: pw, user_pass: hex('sha256', pw), user_salt: null }],
        ['sha256', { password: pw, user_pass: hex('sha256', 'pepper' + pw), user_salt: 'pepper' }],
      ];
      const right = runPhp({ check: vectors.map(([, c]) => c) });
      const wrong = runPhp({ check: vectors.map(([, c]) => ({ ...c, password: c.password + 'x' })) });
      for (const [i, [scheme, c]] of vectors.entries()) {
        assert.deepEqual(right.check[i], { ok: true, scheme }, `${c.user_pass} accepts`);
        assert.equal(wrong.check[i]!.ok, false, `${c.user_pass} refuses a wrong password`);
      }
    });

    it('refuses a salted hash checked without its salt, empty passwords and unknown formats', () => {
      const out = runPhp({
        check: [
          { password: 'hashcat', user_pass: hex('md5', 'salt' + 'hashcat'), user_salt: null },
          { password: 'hashcat', user_pass: hex('md5', 'hashcat'), user_salt: 'salt' },
          { password: '', user_pass: hex('md5', ''), user_salt: null },
          { password: 'hashcat', user_pass: '', user_salt: null },
          { password: 'hashcat', user_pass: 'hashcat', user_salt: null },
          { password: 'hashcat', user_pass: '{SSHA}abcdefghijklmnop', user_salt: null },
          { password: 'hashcat', user_pass: '$P$Z' + 'a'.repeat(30), user_salt: null },
        ],
      });
      assert.deepEqual(
        out.check.map((r) => r.ok),
        [false, false, false, false, false, false, false],
      );
    });

    it('phpass: PHP and an independent implementation agree both ways', () => {
      const passwords = ['correct horse battery staple', 'ünïcödé pässwörd', randomBytes(12).toString('base64')];
      const out = runPhp({ phpass: passwords });
      for (const [i, hash] of out.phpass.entries()) {
        assert.match(hash, /^\$P\$B[./0-9A-Za-z]{30}$/);
        assert.equal(phpassHash(passwords[i]!, hash), hash, 'PHP-made hash recomputed in TS');
      }
      const settings = ['$P$B12345678', '$H$9abcdefgh', '$P$7./AZaz09'];
      const made = settings.map((s, i) => phpassHash(passwords[i]!, s));
      const check = runPhp({ check: made.map((h, i) => ({ password: passwords[i]!, user_pass: h, user_salt: null })) });
      assert.deepEqual(
        check.check.map((r) => r.ok),
        [true, true, true],
      );
    });
  });
}

{
  const reason = await legacyPhpUnavailableReason({ db: 'mysql' });

  describeOrSkip('legacy PHP change-password.php (mysql)', reason, () => {
    let php: LegacyPhp;

    before(async () => {
      php = await startLegacyPhp({ db: 'mysql' });
    });
    after(async () => {
      await php?.stop();
    });

    it('requires a session', async () => {
      const response = await new LegacyBrowser(php.url).get('change-password.php');
      assert.equal(response.status, 302);
      assert.equal(response.location?.pathname, '/login.php');
    });

    it('turns an md5 user into $2y$ bcrypt: the new password works, the old one no longer does', async () => {
      const db = legacyKnex(php);
      try {
        const before = await db('users').where({ user_login: 'carol' }).first();
        assert.match(before.user_pass, /^[0-9a-f]{32}$/);
        assert.ok(before.user_salt);

        const browser = new LegacyBrowser(php.url);
        assert.equal((await browser.login('carol', LEGACY_DEMO_PASSWORD)).status, 302);
        const sessionBefore = browser.sessionId();

        // Refusals first: wrong current password, too short, mismatch, missing CSRF token.
        const newPassword = 'tr0ub4dor&3 is worse';
        const csrf = await browser.csrfToken('change-password.php');
        const attempts: Array<[Record<string, string>, number, RegExp]> = [
          [{ csrf_token: csrf, current_password: 'nope', new_password: newPassword, new_password_confirm: newPassword }, 200, /current password is not correct/],
          [{ csrf_token: csrf, current_password: LEGACY_DEMO_PASSWORD, new_password: 'short', new_password_confirm: 'short' }, 200, /at least 8 characters/],
          [{ csrf_token: csrf, current_password: LEGACY_DEMO_PASSWORD, new_password: newPassword, new_password_confirm: newPassword + '!' }, 200, /do not match/],
          [{ current_password: LEGACY_DEMO_PASSWORD, new_password: newPassword, new_password_confirm: newPassword }, 400, /form expired/],
        ];
        for (const [fields, status, message] of attempts) {
          const response = await browser.postForm('change-password.php', fields);
          assert.equal(response.status, status);
          assert.match(response.body, message);
        }
        assert.equal((await db('users').where({ user_login: 'carol' }).first()).user_pass, before.user_pass, 'unchanged so far');

        const changed = await browser.postForm('change-password.php', {
          csrf_token: await browser.csrfToken('change-password.php'),
          current_password: LEGACY_DEMO_PASSWORD,
          new_password: newPassword,
          new_password_confirm: newPassword,
        });
        assert.equal(changed.status, 302);
        assert.equal(changed.location?.pathname, '/account.php');
        assert.notEqual(browser.sessionId(), sessionBefore, 'new session id after a password change');
        assert.match((await browser.get(changed.location!.href)).body, /Your password has been changed/);

        const after = await db('users').where({ user_login: 'carol' }).first();
        assert.match(after.user_pass, /^\$2y\$10\$[./0-9A-Za-z]{53}$/);
        assert.equal(after.user_salt, null);
        assert.ok(after.updated_at);

        await browser.get('logout.php');
        assert.equal((await new LegacyBrowser(php.url).login('carol', LEGACY_DEMO_PASSWORD)).status, 200, 'old password refused');
        const again = new LegacyBrowser(php.url);
        assert.equal((await again.login('carol', newPassword)).status, 302, 'new password accepted');
        assert.equal(JSON.parse((await again.get('api/me.php')).body).login, 'carol');
      } finally {
        await db.destroy();
      }
    });
  });
}
