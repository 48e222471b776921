import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { verifyPassword } from '../../lib/passwords/index.ts';
import { trickyPasswords, wrongPassword } from './support/fixtures.ts';
import { b64, needPhp, php } from './support/php.ts';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomSalt = (length: number): string => [...randomBytes(length)].map((b) => ITOA64[b & 63]).join('');

// PHP's crypt() takes a C string, so everything after a NUL byte must be ignored, as must
// everything after the eighth byte for DES.
const passwords = [...trickyPasswords, randomBytes(9).toString('base64'), 'abc\u0000def', 'abcdefgh-ignored-by-DES'];

interface Vector {
  password: string;
  setting: string;
  hash: string;
}

function phpCrypt(settings: (() => string)[]): Vector[] {
  const input = passwords.flatMap((password) => settings.map((setting) => ({ password, setting: setting() })));
  const hashes = php<string[]>(
    'echo json_encode(array_map(fn ($v) => crypt(base64_decode($v["password"]), $v["setting"]), $in));',
    input.map((v) => ({ ...v, password: b64(v.password) })),
  );
  return input.map((v, i) => ({ ...v, hash: hashes[i] ?? '' }));
}

const families: [string, string, (() => string)[]][] = [
  ['crypt-des', 'DES', [() => randomSalt(2)]],
  ['crypt-md5', '$1$', [() => `$1$${randomSalt(8)}$`, () => `$1$${randomSalt(3)}$`]],
  ['crypt-sha256', '$5$', [() => `$5$${randomSalt(16)}$`, () => `$5$rounds=1000$${randomSalt(8)}$`]],
  ['crypt-sha512', '$6$', [() => `$6$${randomSalt(16)}$`, () => `$6$rounds=2345$${randomSalt(12)}$`, () => `$6$rounds=${'0'}1000$${randomSalt(4)}$`]],
];

for (const [scheme, label, settings] of families) {
  test(`${label} crypt(): PHP's fresh hashes verify, wrong passwords do not`, async (t) => {
    if (!needPhp(t)) return;
    const vectors = phpCrypt(settings);
    for (const { password, hash } of vectors) {
      assert.ok(hash.length > 2, `PHP refused ${hash}`);
      const right = await verifyPassword(password, { hash });
      assert.equal(right.ok, true, `${JSON.stringify(password)} ${hash}`);
      assert.equal(right.scheme, scheme);
      const wrong = await verifyPassword(wrongPassword(password), { hash });
      assert.equal(wrong.reason, 'mismatch', `${JSON.stringify(password)} ${hash}`);
    }
  });
}

test('crypt() ignores bytes after a NUL and DES ignores bytes after the eighth, as PHP does', async (t) => {
  if (!needPhp(t)) return;
  const [des, sha] = php<string[]>("echo json_encode([crypt('abcdefgh', 'ab'), crypt('abc', '$6$saltsalt$')]);");
  assert.equal((await verifyPassword('abcdefgh and more', { hash: des ?? '' })).ok, true);
  assert.equal((await verifyPassword('abc\u0000anything', { hash: sha ?? '' })).ok, true);
  assert.equal((await verifyPassword('abcanything', { hash: sha ?? '' })).ok, false);
});

test('sha-crypt settings that PHP refuses ("*0") are unverifiable, not mismatches', async (t) => {
  if (!needPhp(t)) return;
  const settings = ['$6$rounds=999$saltsalt$', '$5$rounds=1000000000$saltsalt$', '$6$rounds=$saltsalt$'];
  const outputs = php<string[]>('echo json_encode(array_map(fn ($s) => crypt("x", $s), $in));', settings);
  assert.deepEqual(outputs, ['*0', '*0', '*0']);
  for (const setting of settings) {
    const forged = `${setting}${'a'.repeat(setting.startsWith('$5$') ? 43 : 86)}`;
    const result = await verifyPassword('x', { hash: forged });
    assert.equal(result.reason, 'unverifiable', forged);
    assert.equal(result.error?.code, 'malformed');
  }
});

test('a "rounds=" that is not followed by digits and "$" is part of the salt, as in PHP', async (t) => {
  if (!needPhp(t)) return;
  const [hash] = php<string[]>("echo json_encode([crypt('x', '$6$rounds=abc$tail')]);");
  assert.match(hash ?? '', /^\$6\$rounds=abc\$/);
  assert.equal((await verifyPassword('x', { hash: hash ?? '' })).ok, true);
});
