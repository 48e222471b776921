import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { BARE_HEX_SCHEMES, verifyPassword } from '../../lib/passwords/index.ts';
import { trickyPasswords, wrongPassword } from './support/fixtures.ts';
import { b64, needPhp, php } from './support/php.ts';

// The PHP expression behind each bare-hex scheme name, evaluated by real PHP.
const PHP_EXPRESSIONS: Record<string, string> = {
  md5: 'md5($p)',
  sha1: 'sha1($p)',
  sha256: 'hash("sha256", $p)',
  'md5(salt.password)': 'md5($s . $p)',
  'md5(password.salt)': 'md5($p . $s)',
  'sha1(salt.password)': 'sha1($s . $p)',
  'sha256(salt.password)': 'hash("sha256", $s . $p)',
  'md5(md5(password))': 'md5(md5($p))',
};

// What an ISO-8859-1 page submitted. mbstring is the usual way; iconv is there when it is not.
const PHP_TO_LATIN1 = `function to_latin1($s) {
  return function_exists('mb_convert_encoding') ? mb_convert_encoding($s, 'ISO-8859-1', 'UTF-8') : iconv('UTF-8', 'ISO-8859-1', $s);
}`;

function phpDigests(rows: { password: Uint8Array; salt: Uint8Array }[]): Record<string, string>[] {
  const body = Object.entries(PHP_EXPRESSIONS)
    .map(([name, expression]) => `${JSON.stringify(name)} => ${expression}`)
    .join(', ');
  return php<Record<string, string>[]>(
    `echo json_encode(array_map(function ($r) { $p = base64_decode($r[0]); $s = base64_decode($r[1]); return [${body}]; }, $in));`,
    rows.map((r) => [b64(r.password), b64(r.salt)]),
  );
}

test('every bare-hex scheme name has a PHP expression here', () => {
  assert.deepEqual(Object.keys(PHP_EXPRESSIONS).sort(), [...BARE_HEX_SCHEMES].sort());
});

test("bare hex digests agree with PHP's, in lower and upper case", async (t) => {
  if (!needPhp(t)) return;
  const passwords = [...trickyPasswords, randomBytes(12).toString('base64url')];
  const salt = randomBytes(6).toString('base64url');
  const digests = phpDigests(passwords.map((p) => ({ password: Buffer.from(p), salt: Buffer.from(salt) })));
  for (const [i, password] of passwords.entries()) {
    for (const [scheme, hash] of Object.entries(digests[i] ?? {})) {
      for (const stored of [
        { hash, salt },
        { hash: hash.toUpperCase(), salt },
      ]) {
        const right = await verifyPassword(password, stored, { candidates: [scheme] });
        assert.deepEqual([right.ok, right.scheme], [true, scheme], `${scheme} ${JSON.stringify(password)}`);
        const wrong = await verifyPassword(wrongPassword(password), stored, { candidates: [scheme] });
        assert.equal(wrong.reason, 'mismatch');
      }
    }
  }
});

test('candidates are tried in order, and only those whose digest length fits', async (t) => {
  if (!needPhp(t)) return;
  const [digests] = phpDigests([{ password: Buffer.from('hunter2'), salt: Buffer.from('NaCl') }]);
  const stored = { hash: digests?.['md5(password.salt)'] ?? '', salt: 'NaCl' };
  const candidates = ['sha1', 'md5', 'md5(salt.password)', 'md5(password.salt)', 'sha256'];
  assert.equal((await verifyPassword('hunter2', stored, { candidates })).scheme, 'md5(password.salt)');
  // md5-length hash: the sha1/sha256 candidates cannot apply, so the first md5-length one is named.
  const miss = await verifyPassword('hunter3', stored, { candidates });
  assert.deepEqual([miss.reason, miss.scheme], ['mismatch', 'md5']);
  const noFit = await verifyPassword('hunter2', stored, { candidates: ['sha1', 'sha256'] });
  assert.equal(noFit.reason, 'unrecognised');
});

test('a salted candidate without a salt is skipped, or unverifiable when it was the only one', async () => {
  const onlySalted = await verifyPassword('hunter2', { hash: '2ab96390c7dbe3439de74d0c9b0b1767' }, { candidates: ['md5(salt.password)'] });
  assert.deepEqual([onlySalted.reason, onlySalted.error?.code], ['unverifiable', 'missing-salt']);
  const plain = await verifyPassword(
    'hunter2',
    { hash: '2ab96390c7dbe3439de74d0c9b0b1767', salt: null },
    {
      candidates: ['md5(salt.password)', 'md5'],
    },
  );
  assert.deepEqual([plain.ok, plain.scheme], [true, 'md5']);
});

test('Latin-1 pages: digests of ISO-8859-1 bytes verify only when latin1 is allowed', async (t) => {
  if (!needPhp(t)) return;
  const passwords = ['Pässwörd', 'façade-Ünïcødé-ÿ', 'naïve café'];
  const salt = 'sälty';
  const rows = php<Record<string, string>[]>(
    `${PHP_TO_LATIN1}
     echo json_encode(array_map(function ($p) use ($in) {
       $l = to_latin1($p);
       $s = to_latin1($in['salt']);
       return ['md5' => md5($l), 'sha1(salt.password)' => sha1($s . $l), 'crypt-sha512' => crypt($l, '$6$latin1salt$'),
               'bcrypt-2y' => password_hash($l, PASSWORD_BCRYPT, ['cost' => 4])];
     }, $in['passwords']));`,
    { passwords, salt },
  );
  for (const [i, password] of passwords.entries()) {
    for (const [scheme, hash] of Object.entries(rows[i] ?? {})) {
      const stored = { hash, salt };
      const candidates = BARE_HEX_SCHEMES.includes(scheme) ? [scheme] : [];
      const utf8Only = await verifyPassword(password, stored, { candidates });
      assert.equal(utf8Only.reason, 'mismatch', `${scheme} must not match the UTF-8 bytes`);
      const both = await verifyPassword(password, stored, { candidates, encodings: ['utf8', 'latin1'] });
      assert.deepEqual([both.ok, both.scheme, both.encoding], [true, scheme, 'latin1'], `${scheme} ${password}`);
    }
  }
});

test('latin1 is skipped, not mangled, for passwords Latin-1 cannot spell', async (t) => {
  if (!needPhp(t)) return;
  const password = 'pässwörd ✓ 日本';
  // What a careless Buffer.from(password, 'latin1') would hash: the low byte of ✓ and 日.
  const mangled = Buffer.from(password, 'latin1');
  const [utf8Hash = '', mangledHash = ''] = php<string[]>('echo json_encode(array_map(fn ($p) => md5(base64_decode($p)), $in));', [
    b64(password),
    b64(mangled),
  ]);
  const options = { candidates: ['md5'], encodings: ['latin1', 'utf8'] } as const;
  assert.equal((await verifyPassword(password, { hash: mangledHash }, options)).reason, 'mismatch');
  const fallback = await verifyPassword(password, { hash: utf8Hash }, options);
  assert.deepEqual([fallback.ok, fallback.encoding], [true, 'utf8']);
});
