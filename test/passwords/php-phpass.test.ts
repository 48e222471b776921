import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifyPassword } from '../../lib/passwords/index.ts';
import { trickyPasswords, wrongPassword } from './support/fixtures.ts';
import { b64, needPhp, php, PHP_PHPASS } from './support/php.ts';

const passwords = [...trickyPasswords, 'with\u0000nul'];

for (const [scheme, id, counts] of [
  ['phpass-portable-P', '$P$', [7, 8, 11]],
  ['phpass-portable-H', '$H$', [7, 11]],
  ['drupal7-sha512', '$S$', [7, 15]],
] as const) {
  test(`${scheme}: hashes from a PHP phpass implementation verify`, async (t) => {
    if (!needPhp(t)) return;
    const input = passwords.flatMap((p) => counts.map((log2) => ({ password: b64(p), log2 })));
    const hashes = php<string[]>(
      `${PHP_PHPASS} echo json_encode(array_map(fn ($v) => crypt_private(base64_decode($v['password']), gensalt('${id}', $v['log2'])), $in));`,
      input,
    );
    for (const [i, hash] of hashes.entries()) {
      const password = passwords[Math.floor(i / counts.length)] ?? '';
      const right = await verifyPassword(password, { hash });
      assert.deepEqual([right.ok, right.scheme], [true, scheme], `${JSON.stringify(password)} ${hash}`);
      assert.equal((await verifyPassword(wrongPassword(password), { hash })).reason, 'mismatch');
      // Unlike crypt(), phpass hashes the whole string: bytes after a NUL count.
      if (password.includes('\u0000')) assert.equal((await verifyPassword('with', { hash })).ok, false);
    }
  });
}

test('Drupal 7 refuses passwords over 512 bytes, as _password_crypt() does', async (t) => {
  if (!needPhp(t)) return;
  const long = 'x'.repeat(513);
  // Drupal would never have stored this; the PHP reference computes it anyway to prove we refuse.
  const [hash = ''] = php<string[]>(`${PHP_PHPASS} echo json_encode([crypt_private(base64_decode($in), gensalt('$S$', 7))]);`, b64(long));
  assert.deepEqual(await verifyPassword(long, { hash }), { ok: false, scheme: 'drupal7-sha512', needsRehash: false, reason: 'mismatch' });
});

test('phpass count characters PHP rejects are malformed, those above the limit are refused', async () => {
  const salt = 'abcdefgh';
  const digest = 'a'.repeat(22);
  const outOfRange = await verifyPassword('x', { hash: `$P$4${salt}${digest}` }); // 2^6 < 2^7
  assert.deepEqual([outOfRange.reason, outOfRange.error?.code], ['unverifiable', 'malformed']);
  const absurd = await verifyPassword('x', { hash: `$P$S${salt}${digest}` }); // 2^30
  assert.deepEqual([absurd.reason, absurd.error?.code], ['unverifiable', 'cost-limit']);
  // phpBB's usual 2^11, refused once the limit is lowered.
  const lowered = await verifyPassword('x', { hash: `$H$9${salt}${digest}` }, { limits: { phpassLog2: 7 } });
  assert.deepEqual([lowered.reason, lowered.error?.code], ['unverifiable', 'cost-limit']);
});
