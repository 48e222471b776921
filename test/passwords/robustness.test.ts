import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { BARE_HEX_SCHEMES, UnverifiableHashError, identifyScheme, verifyPassword } from '../../lib/passwords/index.ts';

const BCRYPT_TAIL = 'fjQE6mDkyswP/dQQOYefdODa9qG5q2aT6Taw1EsoBoDAAm7AL2dY2';
const argon2 = (params: string): string => `$argon2id$v=19$${params}$ckQ2c0FMQnhRWHgwaS5OMg$s/u/h3eZxFsKI7JMuQOkPIOaaREnhpuZqjJFjXwl/5w`;

test('missing hashes and empty passwords fail with reason "empty"', async () => {
  for (const hash of [null, undefined, '']) {
    assert.deepEqual(await verifyPassword('pw', { hash }), { ok: false, scheme: null, needsRehash: false, reason: 'empty' });
  }
  const bcrypt = `$2y$10$${BCRYPT_TAIL}`;
  assert.deepEqual(await verifyPassword('', { hash: bcrypt }), { ok: false, scheme: 'bcrypt-2y', needsRehash: false, reason: 'empty' });
});

test('unknown prefixes and garbage are unrecognised', async () => {
  for (const hash of [
    '$9$abc$def',
    '$2x$10$' + BCRYPT_TAIL,
    '$argon2d$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA',
    '_J9..rasm3I3.7IOQ/Rk',
    'garbage',
    '*0',
    '!',
    ' ',
    '12345',
  ]) {
    const result = await verifyPassword('pw', { hash }, { candidates: [...BARE_HEX_SCHEMES] });
    assert.deepEqual([result.ok, result.reason, result.scheme], [false, 'unrecognised', null], hash);
    assert.ok(result.error instanceof UnverifiableHashError);
    assert.equal(result.error.code, 'unrecognised');
    assert.equal(identifyScheme(hash), null, hash);
  }
});

test('known prefixes with broken bodies are unverifiable (malformed)', async () => {
  const cases: [string, string][] = [
    ['$2y$10$short', 'bcrypt-2y'],
    [`$2y$03$${BCRYPT_TAIL}`, 'bcrypt-2y'],
    [`$2b$1x$${BCRYPT_TAIL}`, 'bcrypt-2b'],
    ['$1$salt$tooshort', 'crypt-md5'],
    ['$1$toolongsalt$' + 'a'.repeat(22), 'crypt-md5'],
    ['$5$salt$' + 'a'.repeat(42), 'crypt-sha256'],
    ['$6$salt$' + '!'.repeat(86), 'crypt-sha512'],
    ['$P$Babcdefgh' + 'a'.repeat(21), 'phpass-portable-P'],
    ['$S$Dabcdefgh' + 'a'.repeat(44), 'drupal7-sha512'],
    ['$argon2id$v=19$m=65536,t=4,p=1$!!$!!', 'argon2id'],
    ['$argon2i$v=19$m=65536,t=4,p=1$bVpId2dBMGJ1ZlVJWmRpYw$', 'argon2i'],
    ['$argon2i$v=19$m=1,t=1,p=1$bVpId2dBMGJ1ZlVJWmRpYw$GI4ol4hTJeNYdJxftkZSB17bPvTQxQ5DIiBhHaVM+1g', 'argon2i'],
    ['$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA', 'pbkdf2-sha256'],
    [`$2y$10$${BCRYPT_TAIL.slice(0, -1)}é`, 'bcrypt-2y'],
  ];
  for (const [hash, scheme] of cases) {
    const result = await verifyPassword('pw', { hash });
    assert.deepEqual([result.ok, result.reason, result.scheme, result.error?.code], [false, 'unverifiable', scheme, 'malformed'], hash);
  }
});

test('absurd work factors are refused before any work is done', async () => {
  const cases: [string, string][] = [
    [`$2y$31$${BCRYPT_TAIL}`, 'bcrypt-2y'],
    [`$2a$16$${BCRYPT_TAIL}`, 'bcrypt-2a'],
    ['$6$rounds=999999999$salt$' + 'a'.repeat(86), 'crypt-sha512'],
    ['$5$rounds=1000001$salt$' + 'a'.repeat(43), 'crypt-sha256'],
    ['$P$Sabcdefgh' + 'a'.repeat(22), 'phpass-portable-P'], // 2^30
    ['$H$Jabcdefgh' + 'a'.repeat(22), 'phpass-portable-H'], // 2^21
    ['$S$Sabcdefgh' + 'a'.repeat(43), 'drupal7-sha512'],
    [argon2('m=4194304,t=4,p=1'), 'argon2id'],
    [argon2('m=65536,t=4000,p=1'), 'argon2id'],
    [argon2('m=65536,t=4,p=255'), 'argon2id'],
  ];
  for (const [hash, scheme] of cases) {
    const result = await verifyPassword('pw', { hash });
    assert.deepEqual([result.reason, result.scheme, result.error?.code], ['unverifiable', scheme, 'cost-limit'], hash);
    assert.match(result.error?.message ?? '', /limit/);
  }
});

test('limits are configurable per call', async () => {
  const hash = '$2y$10$fjQE6mDkyswP/dQQOYefdODa9qG5q2aT6Taw1EsoBoDAAm7AL2dY2';
  const lowered = await verifyPassword('correct horse battery staple', { hash }, { limits: { bcryptCost: 9 } });
  assert.deepEqual([lowered.reason, lowered.error?.code], ['unverifiable', 'cost-limit']);
  assert.equal((await verifyPassword('correct horse battery staple', { hash }, { limits: { bcryptCost: 10 } })).ok, true);
});

test('errors name the scheme and the problem but never the hash or password', async () => {
  const hash = `$2y$31$${BCRYPT_TAIL}`;
  const result = await verifyPassword('hunter2', { hash });
  assert.ok(result.error);
  assert.doesNotMatch(result.error.message, /hunter2|fjQE6m/);
  assert.match(result.error.message, /^bcrypt-2y: cost 31 exceeds the limit of 15$/);
});

test('configuration mistakes reject loudly instead of looking like wrong passwords', async () => {
  await assert.rejects(verifyPassword('pw', { hash: 'x' }, { candidates: ['md4'] }), RangeError);
  await assert.rejects(verifyPassword('pw', { hash: 'x' }, { candidates: ['bcrypt-2y'] }), RangeError);
  await assert.rejects(verifyPassword('pw', { hash: 'x' }, { encodings: [] }), RangeError);
  await assert.rejects(verifyPassword('pw', { hash: 'x' }, { encodings: ['utf16le' as 'utf8'] }), RangeError);
  assert.throws(() => identifyScheme('x', ['nope']), RangeError);
});

test('random bytes behind every known prefix never throw', async () => {
  const prefixes = [
    '',
    '$1$',
    '$5$',
    '$6$',
    '$5$rounds=',
    '$6$rounds=5000$',
    '$2a$',
    '$2b$10$',
    '$2y$',
    '$P$',
    '$H$',
    '$S$',
    '$argon2i$',
    '$argon2id$v=19$',
    '$pbkdf2-sha256$',
    '$pbkdf2-sha256$i=1,l=1$',
  ];
  const limits = { bcryptCost: 4, argon2MemoryKiB: 64, argon2Passes: 1 };
  for (const prefix of prefixes) {
    for (let i = 0; i < 25; i++) {
      const body = randomBytes(randomInt(0, 100)).toString(i % 2 ? 'latin1' : 'base64');
      const result = await verifyPassword('pw', { hash: prefix + body, salt: body }, { candidates: [...BARE_HEX_SCHEMES], limits });
      assert.equal(result.ok, false);
      assert.ok(result.reason, `${JSON.stringify(prefix + body)} gave no reason`);
    }
  }
});
