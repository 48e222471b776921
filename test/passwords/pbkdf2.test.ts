import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PBKDF2_POLICY, dummyVerify, hashPassword, needsRehash, pbkdf2Scheme, verifyPassword, type Pbkdf2Policy } from '../../lib/passwords/index.ts';
import { legacyVectors, trickyPasswords, wrongPassword } from './support/fixtures.ts';
import { b64, needPhp, php } from './support/php.ts';

// Cheap policies keep the suite fast; one test below proves the real default end to end.
const FAST: Pbkdf2Policy = { iterations: 1000, keyLength: 32, saltLength: 16 };
const PHC = /^\$pbkdf2-sha256\$i=(\d+),l=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

test('hashPassword writes PHC pbkdf2-sha256 with unpadded standard base64, and it verifies', async () => {
  for (const password of trickyPasswords) {
    const hash = await hashPassword(password, FAST);
    const [, i, l, salt = '', key = ''] = PHC.exec(hash) ?? assert.fail(hash);
    assert.deepEqual([i, l], ['1000', '32']);
    assert.equal(Buffer.from(salt, 'base64').length, 16);
    assert.equal(Buffer.from(key, 'base64').length, 32);
    assert.deepEqual(await verifyPassword(password, { hash }, { policy: FAST }), {
      ok: true,
      scheme: 'pbkdf2-sha256',
      needsRehash: false,
      encoding: 'utf8',
    });
    assert.equal((await verifyPassword(wrongPassword(password), { hash })).reason, 'mismatch');
  }
});

test('two hashes of one password differ (fresh random salt)', async () => {
  assert.notEqual(await hashPassword('same', FAST), await hashPassword('same', FAST));
});

test('the default policy is 600,000 iterations, end to end', async () => {
  assert.deepEqual({ ...DEFAULT_PBKDF2_POLICY }, { iterations: 600_000, keyLength: 32, saltLength: 16 });
  const hash = await pbkdf2Scheme.hash('correct horse battery staple');
  assert.match(hash, /^\$pbkdf2-sha256\$i=600000,l=32\$/);
  assert.deepEqual(await verifyPassword('correct horse battery staple', { hash }), {
    ok: true,
    scheme: 'pbkdf2-sha256',
    needsRehash: false,
    encoding: 'utf8',
  });
});

test("PHP's hash_pbkdf2 reproduces the keys we write, and we verify the ones it writes", async (t) => {
  if (!needPhp(t)) return;
  const hashes = await Promise.all(trickyPasswords.map((p) => hashPassword(p, FAST)));
  const agree = php<boolean[]>(
    String.raw`echo json_encode(array_map(function ($v) {
      preg_match('/^\$pbkdf2-sha256\$i=(\d+),l=(\d+)\$([^$]+)\$([^$]+)$/', $v[1], $m);
      $key = hash_pbkdf2('sha256', base64_decode($v[0]), base64_decode($m[3]), (int) $m[1], (int) $m[2], true);
      return hash_equals(base64_decode($m[4]), $key);
    }, $in));`,
    trickyPasswords.map((p, i) => [b64(p), hashes[i]]),
  );
  assert.deepEqual(
    agree,
    trickyPasswords.map(() => true),
  );

  const fromPhp = php<string[]>(
    String.raw`echo json_encode(array_map(function ($p) {
      $salt = random_bytes(16);
      $key = hash_pbkdf2('sha256', base64_decode($p), $salt, 1500, 32, true);
      return '$pbkdf2-sha256$i=1500,l=32$' . rtrim(base64_encode($salt), '=') . '$' . rtrim(base64_encode($key), '=');
    }, $in));`,
    trickyPasswords.map(b64),
  );
  for (const [i, hash] of fromPhp.entries()) assert.equal((await verifyPassword(trickyPasswords[i] ?? '', { hash })).ok, true, hash);
});

test('needsRehash: every legacy scheme, and PBKDF2 below policy or with another key length', async () => {
  for (const vector of legacyVectors) assert.equal(needsRehash(vector.hash), true, vector.scheme);
  const current = await hashPassword('pw', FAST);
  assert.equal(needsRehash(current, FAST), false);
  assert.equal(needsRehash(current, { ...FAST, iterations: 999 }), false, 'more iterations than policy is fine');
  assert.equal(needsRehash(current, { ...FAST, iterations: 1001 }), true);
  assert.equal(needsRehash(current), true, 'below the 600,000 default');
  assert.equal(needsRehash(await hashPassword('pw', { ...FAST, keyLength: 64 }), FAST), true);
  assert.equal(needsRehash(await hashPassword('pw', { ...FAST, saltLength: 8 }), FAST), true);
  assert.equal(needsRehash('garbage'), true);
});

test('verifyPassword reports needsRehash on success only', async () => {
  const weak = await hashPassword('pw', FAST);
  assert.equal((await verifyPassword('pw', { hash: weak })).needsRehash, true);
  assert.equal((await verifyPassword('nope', { hash: weak })).needsRehash, false);
});

test('malformed PHC strings are unverifiable, absurd iteration counts refused', async () => {
  const good = await hashPassword('pw', FAST);
  const [, , , salt = '', key = ''] = PHC.exec(good) ?? assert.fail(good);
  const cases: [string, string][] = [
    [`$pbkdf2-sha256$i=1000,l=32$${salt}==$${key}`, 'malformed'], // padding is not the canonical form
    [`$pbkdf2-sha256$i=1000,l=16$${salt}$${key}`, 'malformed'], // l disagrees with the key
    [`$pbkdf2-sha256$l=32,i=1000$${salt}$${key}`, 'malformed'],
    [`$pbkdf2-sha256$i=01000,l=32$${salt}$${key}`, 'malformed'],
    [`$pbkdf2-sha256$i=1000,l=32$${salt.replace(/./, '-')}$${key}`, 'malformed'],
    [`$pbkdf2-sha256$i=5000001,l=32$${salt}$${key}`, 'cost-limit'],
    [`$pbkdf2-sha256$i=9999999999,l=32$${salt}$${key}`, 'cost-limit'],
  ];
  for (const [hash, code] of cases) {
    const result = await verifyPassword('pw', { hash });
    assert.deepEqual([result.reason, result.scheme, result.error?.code], ['unverifiable', 'pbkdf2-sha256', code], hash);
  }
});

test('policies that would write weak hashes are refused', async () => {
  await assert.rejects(hashPassword('pw', { ...FAST, iterations: 0 }), RangeError);
  await assert.rejects(hashPassword('pw', { ...FAST, keyLength: 8 }), RangeError);
  await assert.rejects(hashPassword('pw', { ...FAST, saltLength: 4 }), RangeError);
  await assert.rejects(hashPassword('', FAST), RangeError);
});

test('dummyVerify does the PBKDF2 work and resolves', async () => {
  assert.equal(await dummyVerify(FAST), undefined);
  await assert.rejects(dummyVerify({ ...FAST, iterations: 1.5 }), RangeError);
});
