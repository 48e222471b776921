import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifyPassword } from '../../lib/passwords/index.ts';
import { trickyPasswords, wrongPassword } from './support/fixtures.ts';
import { b64, needPhp, php } from './support/php.ts';

// phpass's PasswordHash::crypt_private and encode64 as WordPress ships them, with Drupal 7's
// _password_crypt folded in ($S$: sha512, output cut to 55 characters), run by real PHP as an
// independent reference for the TypeScript port.
const PHP_PHPASS = String.raw`
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function encode64($input, $count) {
  $output = ''; $i = 0;
  do {
    $value = ord($input[$i++]);
    $output .= ITOA64[$value & 0x3f];
    if ($i < $count) $value |= ord($input[$i]) << 8;
    $output .= ITOA64[($value >> 6) & 0x3f];
    if ($i++ >= $count) break;
    if ($i < $count) $value |= ord($input[$i]) << 16;
    $output .= ITOA64[($value >> 12) & 0x3f];
    if ($i++ >= $count) break;
    $output .= ITOA64[($value >> 18) & 0x3f];
  } while ($i < $count);
  return $output;
}
function crypt_private($password, $setting) {
  $output = '*0';
  $id = substr($setting, 0, 3);
  if ($id !== '$P$' && $id !== '$H$' && $id !== '$S$') return $output;
  $count_log2 = strpos(ITOA64, $setting[3]);
  if ($count_log2 < 7 || $count_log2 > 30) return $output;
  $count = 1 << $count_log2;
  $salt = substr($setting, 4, 8);
  if (strlen($salt) !== 8) return $output;
  $algo = $id === '$S$' ? 'sha512' : 'md5';
  $hash = hash($algo, $salt . $password, true);
  do { $hash = hash($algo, $hash . $password, true); } while (--$count);
  $output = substr($setting, 0, 12) . encode64($hash, strlen($hash));
  return $id === '$S$' ? substr($output, 0, 55) : $output;
}
function gensalt($id, $log2) { return $id . ITOA64[$log2] . encode64(random_bytes(6), 6); }
`;

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
