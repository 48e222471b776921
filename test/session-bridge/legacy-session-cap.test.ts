// The rule behind every lifetime of a legacy-session sign-in's tokens (idp/oidc/legacy-session-cap.ts),
// on the shapes oidc-provider hands its ttl functions. The flows themselves are in
// legacy-session-tokens.test.ts; this covers what no flow can produce any more: a refresh token
// issued to such a sign-in before refresh tokens were refused to it, rotated now.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capToLegacySession, vouchedByLegacySession } from '../../idp/oidc/legacy-session-cap.ts';

const NOW = 1_800_000_000;
const DAYS_14 = 14 * 86_400;
const LEGACY = 1_440;
const legacy = (authTime: number) => ({ amr: ['legacy_session'], authTime });

test('a rotated refresh token keeps the sign-in time, so rotation never extends past sign-in + the PHP session lifetime', () => {
  // oidc-provider's rotation copies amr and authTime into the new token, and asks the ttl of that.
  assert.equal(capToLegacySession(DAYS_14, {}, legacy(NOW - 1_000), LEGACY, NOW), 440);
  assert.equal(capToLegacySession(DAYS_14, {}, legacy(NOW - 1_400), LEGACY, NOW + 30), 10, 'later rotations get less, never more');
  assert.equal(capToLegacySession(DAYS_14, {}, legacy(NOW - 5_000), LEGACY, NOW), 1, 'past the cap: dead on arrival');
  assert.equal(capToLegacySession(DAYS_14, {}, { amr: ['pwd'], authTime: NOW - 1_000 }, LEGACY, NOW), DAYS_14, 'a password sign-in keeps its lifetime');
});

test('tokens without their own sign-in take it from what the request loaded: the code, the refresh token, the session', () => {
  const accessToken = {};
  assert.equal(capToLegacySession(3_600, { oidc: { entities: { AuthorizationCode: legacy(NOW - 100) } } }, accessToken, LEGACY, NOW), 1_340);
  assert.equal(capToLegacySession(3_600, { oidc: { entities: { RefreshToken: legacy(NOW - 1_000) } } }, accessToken, LEGACY, NOW), 440);
  assert.equal(capToLegacySession(3_600, { oidc: { entities: { Session: { amr: ['legacy_session'], loginTs: NOW - 40 } } } }, accessToken, LEGACY, NOW), 1_400);
  assert.equal(capToLegacySession(600, { oidc: { entities: { AuthorizationCode: legacy(NOW) } } }, accessToken, LEGACY, NOW), 600, 'a shorter lifetime stays');
  assert.equal(capToLegacySession(3_600, { oidc: { entities: { AuthorizationCode: { amr: ['pwd'], authTime: NOW } } } }, accessToken, LEGACY, NOW), 3_600);
  assert.equal(capToLegacySession(3_600, undefined, accessToken, LEGACY, NOW), 3_600, 'no request context (a grant saved by the interaction pages)');
  // ID tokens carry their claims in `available`.
  assert.equal(capToLegacySession(3_600, {}, { available: { amr: ['legacy_session'], auth_time: NOW - 40 } }, LEGACY, NOW), 1_400);
  assert.equal(vouchedByLegacySession({ oidc: { entities: { Session: { amr: ['pwd'] } } } }, {}), false);
  assert.equal(vouchedByLegacySession({ oidc: { entities: { AuthorizationCode: { amr: ['legacy_session'] } } } }, { scopes: new Set(['openid']) }), true);
});
