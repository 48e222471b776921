import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BARE_HEX_SCHEMES, SCHEME_NAMES, identifyScheme, verifyPassword } from '../../lib/passwords/index.ts';
import { IDENTIFIED_AS, legacyVectors, wrongPassword } from './support/fixtures.ts';

const expectedName = (fixtureScheme: string): string => IDENTIFIED_AS[fixtureScheme] ?? fixtureScheme;
const candidatesFor = (fixtureScheme: string): string[] => (BARE_HEX_SCHEMES.includes(fixtureScheme) ? [fixtureScheme] : []);

test('the fixture file covers every legacy scheme the brief lists', () => {
  const schemes = new Set(legacyVectors.map((v) => v.scheme));
  assert.equal(schemes.size, 19);
  for (const scheme of schemes) assert.ok(SCHEME_NAMES.includes(expectedName(scheme)), `${scheme} has no registered scheme`);
});

test('identifyScheme names every fixture hash', () => {
  for (const vector of legacyVectors) {
    assert.equal(identifyScheme(vector.hash, candidatesFor(vector.scheme)), expectedName(vector.scheme), vector.hash);
  }
});

test('bare hex digests are not identified without candidates', () => {
  for (const vector of legacyVectors.filter((v) => BARE_HEX_SCHEMES.includes(v.scheme))) {
    assert.equal(identifyScheme(vector.hash), null);
  }
});

for (const vector of legacyVectors) {
  test(`fixture ${vector.scheme} / ${JSON.stringify(vector.password.slice(0, 24))}`, async () => {
    const options = { candidates: candidatesFor(vector.scheme) };
    const right = await verifyPassword(vector.password, vector, options);
    assert.deepEqual(right, { ok: true, scheme: expectedName(vector.scheme), needsRehash: true, encoding: 'utf8' });

    const wrong = await verifyPassword(wrongPassword(vector.password), vector, options);
    assert.deepEqual(wrong, { ok: false, scheme: expectedName(vector.scheme), needsRehash: false, reason: 'mismatch' });
  });
}
