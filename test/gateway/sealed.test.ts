// The signed values behind the gateway's own cookies (admin session, sign-in transaction).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSealer } from '../../gateway/sealed.ts';

const now = 1_800_000_000_000;

test('a sealed value opens only unchanged, under the same secret and purpose, before it expires', () => {
  const sealer = createSealer('a-secret-long-enough-for-the-gateway-0123', 'purpose one');
  const value = sealer.seal({ who: 'ops@example.com', n: 1 }, now + 60_000);
  assert.deepEqual(sealer.open(value, now), { who: 'ops@example.com', n: 1, exp: now + 60_000 });

  const [payload, signature] = value.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ who: 'attacker', n: 1, exp: now + 60_000 })).toString('base64url');
  assert.equal(sealer.open(`${forged}.${signature}`, now), undefined, 'another payload under the old signature');
  assert.equal(sealer.open(`${payload}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`, now), undefined, 'a changed signature');
  assert.equal(sealer.open(`${value}.x`, now), undefined, 'an extra part');
  assert.equal(sealer.open(payload, now), undefined, 'no signature');
  assert.equal(sealer.open(undefined, now), undefined);
  assert.equal(sealer.open(value, now + 60_000), undefined, 'expired');
  assert.equal(createSealer('another-secret-long-enough-for-the-gateway', 'purpose one').open(value, now), undefined, 'another secret');
  assert.equal(createSealer('a-secret-long-enough-for-the-gateway-0123', 'purpose two').open(value, now), undefined, 'another purpose');
});

test('a MAC for another use never opens as a sealed value', () => {
  const sealer = createSealer('a-secret-long-enough-for-the-gateway-0123', 'purpose one');
  const payload = Buffer.from(JSON.stringify({ exp: now + 60_000 })).toString('base64url');
  assert.equal(sealer.open(`${payload}.${sealer.mac(payload)}`, now), undefined);
  assert.equal(sealer.open(`${payload}.${sealer.mac(`csrf:${payload}`)}`, now), undefined);
  assert.deepEqual(sealer.open(`${payload}.${sealer.mac(`seal:${payload}`)}`, now), { exp: now + 60_000 });
});
