import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  BARE_HEX_SCHEMES,
  identifyScheme,
  needsRehash,
  verifyPassword,
  WEAK_SCHEMES,
  wrapLegacyHash,
  wrapLegacyHashes,
  WRAPPED_SCHEME,
} from '../../lib/passwords/index.ts';
import { IDENTIFIED_AS, legacyVectors, wrongPassword, type LegacyVector } from './support/fixtures.ts';

// The cheapest count wrapping allows keeps the suite fast; the format is the same at any count.
const I = 1000;

const schemeOf = (v: LegacyVector) => IDENTIFIED_AS[v.scheme] ?? v.scheme;
const inputOf = (v: LegacyVector, candidates = BARE_HEX_SCHEMES.includes(v.scheme) ? [v.scheme] : []) => ({
  hash: v.hash,
  scheme: schemeOf(v),
  candidates,
  hasSalt: v.salt !== null,
});
const weakVectors = legacyVectors.filter((v) => WEAK_SCHEMES.includes(schemeOf(v)));

test('the cheap schemes are the weak ones: digests, DES and md5 crypt, phpass', () => {
  for (const name of [
    'md5',
    'sha1',
    'sha256',
    'md5(salt.password)',
    'md5(md5(password))',
    'crypt-des',
    'crypt-md5',
    'phpass-portable-P',
    'phpass-portable-H',
  ]) {
    assert.ok(WEAK_SCHEMES.includes(name), name);
  }
  for (const name of ['bcrypt-2y', 'argon2id', 'crypt-sha512', 'pbkdf2-sha256', WRAPPED_SCHEME]) assert.ok(!WEAK_SCHEMES.includes(name), name);
});

test('every PHP-made weak hash, wrapped without its password, verifies with the right password only and asks to be rehashed', async () => {
  assert.ok(weakVectors.length >= 20);
  for (const v of weakVectors) {
    const wrapped = (await wrapLegacyHash(inputOf(v), I)) ?? assert.fail(v.scheme);
    assert.ok(wrapped.startsWith(`$${WRAPPED_SCHEME}$i=${I},l=32$`), v.scheme);
    // The digest part of the legacy hash is gone from the stored form.
    const digest =
      v.scheme === 'crypt-des' ? v.hash.slice(2) : v.hash.startsWith('$') ? v.hash.slice(v.scheme === 'crypt-md5' ? v.hash.lastIndexOf('$') + 1 : 12) : v.hash;
    const setting = Buffer.from(/,s=(.*)$/.exec(wrapped)?.[1] ?? '', 'base64').toString('latin1');
    assert.ok(!wrapped.includes(digest) && !setting.includes(digest), v.scheme);
    assert.equal(identifyScheme(wrapped), WRAPPED_SCHEME);
    const stored = { hash: wrapped, salt: v.salt };
    assert.deepEqual(await verifyPassword(v.password, stored), { ok: true, scheme: WRAPPED_SCHEME, needsRehash: true, encoding: 'utf8' }, v.scheme);
    const wrong = await verifyPassword(wrongPassword(v.password), stored);
    assert.deepEqual([wrong.ok, wrong.reason], [false, 'mismatch'], v.scheme);
    assert.equal(needsRehash(wrapped), true);
  }
});

test('a digest is wrapped over every candidate of its length, and an upper-case digest verifies as PHP wrote it', async () => {
  const password = 'pw-upper';
  const md5md5 = createHash('md5').update(createHash('md5').update(password).digest('hex')).digest('hex').toUpperCase();
  const wrapped =
    (await wrapLegacyHash({ hash: md5md5, scheme: 'md5', candidates: ['sha1', 'md5', 'md5(md5(password))', 'md5(salt.password)'], hasSalt: false }, I)) ??
    assert.fail();
  assert.ok(wrapped.endsWith('$md5+md5(md5(password))'), 'the 32-digit unsalted candidates, in order; salted ones need a salt');
  assert.equal((await verifyPassword(password, { hash: wrapped })).ok, true);
  assert.equal((await verifyPassword('pw-uppeR', { hash: wrapped })).ok, false);
});

test('a salted digest wrapped with its salt fails cleanly without it; Latin-1 sites keep their encodings', async () => {
  const v = legacyVectors.find((x) => x.scheme === 'md5(salt.password)') ?? assert.fail();
  const wrapped = (await wrapLegacyHash(inputOf(v), I)) ?? assert.fail();
  const result = await verifyPassword(v.password, { hash: wrapped, salt: null });
  assert.deepEqual([result.ok, result.reason, result.error?.code], [false, 'unverifiable', 'missing-salt']);
  const latin1 = createHash('md5')
    .update(Buffer.from('s\xe4lt' + 'p\xe4ss', 'latin1'))
    .digest('hex');
  const wrappedLatin1 = (await wrapLegacyHash({ hash: latin1, scheme: 'md5(salt.password)', hasSalt: true }, I)) ?? assert.fail();
  const ok = await verifyPassword('päss', { hash: wrappedLatin1, salt: 'sält' }, { encodings: ['utf8', 'latin1'] });
  assert.deepEqual([ok.ok, ok.encoding], [true, 'latin1']);
});

test('strong and unknown hashes are not wrapped', async () => {
  for (const v of legacyVectors.filter((x) => !WEAK_SCHEMES.includes(schemeOf(x)))) assert.equal(await wrapLegacyHash(inputOf(v), I), null, v.scheme);
  assert.equal(await wrapLegacyHash({ hash: 'not-a-digest', scheme: 'md5' }, I), null);
  assert.equal(await wrapLegacyHash({ hash: createHash('md5').update('x').digest('hex'), scheme: 'md5(salt.password)', hasSalt: false }, I), null);
  await assert.rejects(wrapLegacyHash(inputOf(weakVectors[0] ?? assert.fail()), 999), RangeError);
});

test('a damaged or over-costly wrapped string is unverifiable, never a crash or a match', async () => {
  const v = legacyVectors.find((x) => x.scheme === 'crypt-md5') ?? assert.fail();
  const wrapped = (await wrapLegacyHash(inputOf(v), I)) ?? assert.fail();
  const damaged = [
    wrapped.replace(',s=', ',x='),
    wrapped.replace('crypt-md5', 'crypt-sha512'),
    wrapped.replace('crypt-md5', 'md5+crypt-md5'),
    wrapped.replace(/,s=.*$/, `,s=${Buffer.from('$1$too-long-salt$').toString('base64').replace(/=+$/, '')}`),
    wrapped.replace('l=32', 'l=31'),
  ];
  for (const hash of damaged) {
    const result = await verifyPassword(v.password, { hash });
    assert.deepEqual([result.ok, result.error?.code], [false, 'malformed'], hash);
  }
  const costly = wrapped.replace(`i=${I}`, 'i=9000000');
  assert.equal((await verifyPassword(v.password, { hash: costly })).error?.code, 'cost-limit');
});

test('wrapLegacyHashes wraps a batch in order on every libuv thread, each with its own salt', async () => {
  const inputs = weakVectors.map((v) => inputOf(v));
  const out = await wrapLegacyHashes([...inputs, { hash: '$2y$04$abc', scheme: 'bcrypt-2y' }], I);
  assert.equal(out.length, inputs.length + 1);
  assert.equal(out.at(-1), null);
  assert.equal(new Set(out.slice(0, -1)).size, inputs.length);
  for (const [i, v] of weakVectors.entries()) assert.equal((await verifyPassword(v.password, { hash: out[i] ?? '', salt: v.salt })).ok, true, v.scheme);
});
