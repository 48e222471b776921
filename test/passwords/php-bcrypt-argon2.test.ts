import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { verifyPassword } from '../../lib/passwords/index.ts';
import { trickyPasswords, wrongPassword } from './support/fixtures.ts';
import { b64, needPhp, php } from './support/php.ts';

const passwords = [...trickyPasswords, randomBytes(12).toString('base64')];

function phpHashes(expression: string, list: readonly string[]): string[] {
  return php<string[]>(`echo json_encode(array_map(fn ($p) => ${expression}, array_map('base64_decode', $in)));`, list.map(b64));
}

async function assertAgrees(list: readonly string[], hashes: string[], scheme: string): Promise<void> {
  for (const [i, password] of list.entries()) {
    const hash = hashes[i] ?? '';
    const right = await verifyPassword(password, { hash });
    assert.deepEqual([right.ok, right.scheme], [true, scheme], `${JSON.stringify(password)} ${hash}`);
    assert.equal((await verifyPassword(wrongPassword(password), { hash })).reason, 'mismatch', hash);
  }
}

test("bcrypt: PHP's password_hash() defaults ($2y$, cost 10) verify", async (t) => {
  if (!needPhp(t)) return;
  const two = passwords.slice(0, 2);
  const hashes = phpHashes('password_hash($p, PASSWORD_DEFAULT)', two);
  assert.match(hashes[0] ?? '', /^\$2y\$10\$/);
  await assertAgrees(two, hashes, 'bcrypt-2y');
});

test('bcrypt: $2a$, $2b$ and $2y$ from PHP crypt() verify under their own names', async (t) => {
  if (!needPhp(t)) return;
  const salt = randomBytes(16).toString('base64').replace(/[+=]/g, '.').slice(0, 22);
  for (const version of ['2a', '2b', '2y']) {
    const hashes = phpHashes(`crypt($p, '$${version}$04$${salt}')`, passwords);
    await assertAgrees(passwords, hashes, `bcrypt-${version}`);
  }
});

test('bcrypt: only the first 72 bytes count, as in PHP', async (t) => {
  if (!needPhp(t)) return;
  const base = 'é'.repeat(36); // exactly 72 UTF-8 bytes
  const [hash = ''] = phpHashes("password_hash($p, PASSWORD_BCRYPT, ['cost' => 4])", [`${base}tail`]);
  // PHP agrees with itself that the tail is ignored, and so must we.
  const [phpSaysSame] = php<boolean[]>(`echo json_encode([password_verify(base64_decode($in[0]), $in[1])]);`, [b64(`${base}other`), hash]);
  assert.equal(phpSaysSame, true);
  assert.equal((await verifyPassword(`${base}other`, { hash })).ok, true);
  assert.equal((await verifyPassword(base, { hash })).ok, true);
  assert.equal((await verifyPassword('é'.repeat(35), { hash })).ok, false);
});

test('bcrypt: a NUL byte ends the password, as in PHP crypt()', async (t) => {
  if (!needPhp(t)) return;
  const [hash = ''] = phpHashes("crypt($p, '$2y$04$abcdefghijklmnopqrstuu')", ['pass\u0000word']);
  assert.equal((await verifyPassword('pass', { hash })).ok, true);
  assert.equal((await verifyPassword('pass\u0000something else', { hash })).ok, true);
  assert.equal((await verifyPassword('password', { hash })).ok, false);
});

test("bcrypt: $2a$ hashes that hit crypt_blowfish's 8-bit safety path are reported, not failed", async (t) => {
  if (!needPhp(t)) return;
  // Openwall's own test vector: bytes ff ff a3, which a Latin-1 page sends for "ÿÿ£".
  const [a = '', y = ''] = php<string[]>(
    'echo json_encode([crypt("\\xff\\xff\\xa3", \'$2a$05$/OK.fbVrR/bpIqNJ5ianF.\'), crypt("\\xff\\xff\\xa3", \'$2y$05$/OK.fbVrR/bpIqNJ5ianF.\')]);',
  );
  assert.equal(a, '$2a$05$/OK.fbVrR/bpIqNJ5ianF.nqd1wy.pTMdcvrRWxyiGL2eMz.2a85.');
  const quirk = await verifyPassword('ÿÿ£', { hash: a }, { encodings: ['latin1'] });
  assert.deepEqual([quirk.reason, quirk.error?.code], ['unverifiable', 'unsupported']);
  assert.equal((await verifyPassword('ÿÿ£', { hash: y }, { encodings: ['latin1'] })).ok, true);
  // UTF-8 never produces byte 0xff, so 8-bit $2a$ passwords from UTF-8 pages are unaffected.
  const [utf8 = ''] = phpHashes("crypt($p, '$2a$04$abcdefghijklmnopqrstuu')", ['ÿÿ£ñ']);
  assert.equal((await verifyPassword('ÿÿ£ñ', { hash: utf8 })).ok, true);
});

test("argon2i and argon2id: PHP's password_hash() verifies", async (t) => {
  if (!needPhp(t)) return;
  const options = "['memory_cost' => 1024, 'time_cost' => 2, 'threads' => 1]";
  await assertAgrees(passwords, phpHashes(`password_hash($p, PASSWORD_ARGON2I, ${options})`, passwords), 'argon2i');
  await assertAgrees(passwords, phpHashes(`password_hash($p, PASSWORD_ARGON2ID, ${options})`, passwords), 'argon2id');
});
