// The never-downgrade rule of the idp's bulk import (idp/import/plan.ts), decided in memory:
// the cases where a legacy row must not replace a password the idp holds, and the ones where it must.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImportUser } from '../../contracts/idp-import.ts';
import { planImport } from '../../idp/import/plan.ts';
import type { StoredUser } from '../../idp/users/types.ts';

const PBKDF2 = '$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

function idpUser(legacyFingerprint: string | null): StoredUser {
  return {
    id: 'user-1',
    username: 'erin',
    email: 'erin@example.com',
    emailVerified: false,
    name: 'Erin',
    active: true,
    updatedAt: new Date(0),
    legacyId: '5',
    passwordHash: PBKDF2,
    passwordSalt: null,
    passwordScheme: 'pbkdf2-sha256',
    passwordCandidates: [],
    passwordEncodings: ['utf8'],
    legacyFingerprint,
    passwordChangedAt: new Date(0),
  };
}

function legacyRow(legacyFingerprint: string): ImportUser {
  return {
    legacyId: '5',
    username: 'erin',
    email: 'erin@example.com',
    name: 'Erin',
    active: true,
    passwordHash: '$2y$04$abcdefghijklmnopqrstuu5Kf0Cq5Yk8lTTB0SPZ3C3X6XG2xj1yK',
    passwordSalt: null,
    passwordScheme: 'bcrypt',
    passwordCandidates: [],
    passwordEncodings: ['utf8'],
    legacyFingerprint,
  };
}

test('a legacy row read before the newest dual-write landed holds a hash the idp wrote: the idp keeps its newer password', () => {
  // The idp wrote A, then B, to the legacy row; the batch read the row while it still held A.
  const plan = planImport([legacyRow('fp-A')], [idpUser('fp-B')], new Map([['user-1', new Set(['fp-A', 'fp-B'])]]));
  assert.deepEqual(plan.updates, []);
  assert.deepEqual(plan.results, [{ legacyId: '5', ok: true, outcome: 'already_upgraded', wrapped: false }]);
});

test('a password changed on the legacy side (a hash the idp never wrote) still replaces the one the idp holds', () => {
  const plan = planImport([legacyRow('fp-C')], [idpUser('fp-B')], new Map([['user-1', new Set(['fp-A', 'fp-B'])]]));
  assert.equal(plan.updates.length, 1);
  assert.equal(plan.updates[0]!.change.passwordHash, legacyRow('fp-C').passwordHash);
  assert.equal(plan.updates[0]!.change.legacyFingerprint, 'fp-C');
  assert.equal(plan.results[0]!.ok && plan.results[0]!.outcome, 'updated');
});

test('the fingerprint the idp recorded last, or none recorded yet, keeps the password as before', () => {
  assert.deepEqual(planImport([legacyRow('fp-B')], [idpUser('fp-B')]).updates, []);
  const first = planImport([legacyRow('fp-A')], [idpUser(null)]);
  assert.deepEqual(
    first.updates.map((u) => u.change),
    [{ legacyFingerprint: 'fp-A' }],
    'starts watching the row, keeps the password',
  );
});
