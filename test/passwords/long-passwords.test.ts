// Long passwords: the hand-written schemes stay bit-exact with PHP up to the cap, cost memory
// in proportion to the password (not its square), and nothing longer than the cap is hashed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAX_PASSWORD_BYTES, verifyPassword } from '../../lib/passwords/index.ts';
import { b64, needPhp, php, PHP_PHPASS } from './support/php.ts';

const ascii = (bytes: number): string => Array.from({ length: bytes }, (_, i) => String.fromCharCode(0x21 + (i % 94))).join('');

test('sha-crypt, md5-crypt and phpass agree with PHP on a password of exactly the cap', async (t) => {
  if (!needPhp(t)) return;
  const password = ascii(MAX_PASSWORD_BYTES);
  const settings = ['$5$saltsaltsaltsalt$', '$6$rounds=1000$saltsalt$', '$1$saltsalt$'];
  const hashes = php<string[]>('echo json_encode(array_map(fn ($s) => crypt(base64_decode($in["pw"]), $s), $in["settings"]));', {
    pw: b64(password),
    settings,
  });
  // phpass's reference is PHP code (support/php.ts): a WordPress hash of 2^8 rounds.
  const [phpass] = php<string[]>(`${PHP_PHPASS} echo json_encode([crypt_private(base64_decode($in), '$P$6abcdefgh')]);`, b64(password));
  for (const hash of [...hashes, phpass ?? '']) {
    const right = await verifyPassword(password, { hash });
    assert.equal(right.ok, true, hash);
    assert.equal((await verifyPassword(`X${password.slice(1)}`, { hash })).reason, 'mismatch', hash);
  }
});

test('a password longer than the cap never reaches a scheme, even one that would accept it', async (t) => {
  if (!needPhp(t)) return;
  // Over the cap in bytes: one byte too many, and a multi-byte password under the cap in characters.
  const tooLong = [ascii(MAX_PASSWORD_BYTES + 1), '日'.repeat(Math.floor(MAX_PASSWORD_BYTES / 3) + 1)];
  const hashes = php<string[]>(
    "echo json_encode(array_map(fn ($p) => crypt(base64_decode($p), '$6$rounds=1000$saltsalt$'), $in));",
    tooLong.map((p) => b64(p)),
  );
  for (const [i, password] of tooLong.entries()) {
    const hash = hashes[i] ?? '';
    assert.match(hash, /^\$6\$/);
    assert.deepEqual(await verifyPassword(password, { hash }, { encodings: ['utf8', 'latin1'] }), {
      ok: false,
      scheme: 'crypt-sha512',
      needsRehash: false,
      reason: 'mismatch',
    });
  }
});

test("sha-crypt's password step uses memory in proportion to the password, not to its square", () => {
  // 12,000 bytes: the step hashes the password once per byte, 144 MB if built in one buffer.
  const script = `import { shaCrypt } from ${JSON.stringify(fileURLToPath(new URL('../../lib/passwords/algorithms/sha-crypt.ts', import.meta.url)))};
    const before = process.resourceUsage().maxRSS;
    shaCrypt(Buffer.alloc(12_000, 0x61), '$5$rounds=1000$salt$');
    process.stdout.write(String(process.resourceUsage().maxRSS - before));`;
  const grownKiB = Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  assert.ok(grownKiB < 64 * 1024, `the peak resident size grew by ${Math.round(grownKiB / 1024)} MB`);
});
