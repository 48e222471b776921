// revokeUserGrants (for password changes and resets) and the provider's metrics.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as oidc from 'openid-client';
import { authorize, UserAgent } from '../../scripts/support/browser.ts';
import {
  closeSharedResources,
  CONFIDENTIAL_REDIRECT,
  CONFIDENTIAL_SECRET,
  NATIVE_REDIRECT,
  seedLegacyUser,
  SERVICE_SECRET,
  withIdp,
  type Storage,
  type TestIdp,
} from '../support/idp.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';

after(closeSharedResources);
const insecure = { execute: [oidc.allowInsecureRequests] };

async function signIn(idp: TestIdp, clientId: string, auth: oidc.ClientAuth, redirectUri: string) {
  const config = await oidc.discovery(new URL(idp.issuer), clientId, {}, auth, insecure);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid offline_access',
    prompt: 'consent',
    state: 's',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await authorize(new UserAgent(), url, redirectUri, { username: 'dave', password: PASSWORD });
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' });
  const stored = (await idp.provider.AccessToken.find(tokens.access_token)) as { grantId: string } | undefined;
  assert.ok(stored?.grantId);
  return { config, tokens, grantId: stored.grantId };
}

for (const storage of [
  { db: 'mysql', redis: true },
  { db: 'sqlite', redis: false },
] satisfies Storage[]) {
  const name = storage.redis ? 'MariaDB + Redis' : 'embedded';
  test(`${name}: revokeUserGrants keeps the current grant and revokes the account's others`, async (t) => {
    await withIdp(t, storage, async (idp) => {
      const userId = await seedLegacyUser(idp, 'dave');
      const phone = await signIn(idp, 'native-app', oidc.None(), NATIVE_REDIRECT);
      const laptop = await signIn(idp, 'web-app', oidc.ClientSecretBasic(CONFIDENTIAL_SECRET), CONFIDENTIAL_REDIRECT);

      const result = await idp.oidc.revokeUserGrants(userId, phone.grantId);
      assert.equal(result.grants, 1);
      assert.equal(result.sessions, 1, 'the other browser session ended too');

      await assert.rejects(oidc.refreshTokenGrant(laptop.config, laptop.tokens.refresh_token!), 'the other grant is revoked');
      await assert.rejects(oidc.fetchUserInfo(laptop.config, laptop.tokens.access_token, userId));
      const kept = await oidc.refreshTokenGrant(phone.config, phone.tokens.refresh_token!);
      await oidc.fetchUserInfo(phone.config, kept.access_token, userId);

      const all = await idp.oidc.revokeUserGrants(userId);
      assert.equal(all.grants, 1);
      await assert.rejects(oidc.refreshTokenGrant(phone.config, kept.refresh_token!));
    });
  });
}

test('metrics: tokens issued by grant and client, errors by type, sessions active', async (t) => {
  await withIdp(t, { db: 'mysql', redis: true }, async (idp) => {
    await seedLegacyUser(idp, 'dave');
    await signIn(idp, 'native-app', oidc.None(), NATIVE_REDIRECT);
    const service = await oidc.discovery(new URL(idp.issuer), 'service', {}, oidc.ClientSecretPost(SERVICE_SECRET), insecure);
    await oidc.clientCredentialsGrant(service, { scope: 'orders:read' });
    await assert.rejects(oidc.clientCredentialsGrant(service, { scope: 'openid' }));
    const text = await (await fetch(`${idp.opsUrl}/metrics`)).text();
    assert.match(text, /idp_tokens_issued_total\{grant_type="client_credentials",client_id="service",service="idp"\} 1/);
    assert.match(text, /idp_tokens_issued_total\{grant_type="authorization_code",client_id="native-app",service="idp"\} 1/);
    assert.match(text, /idp_oidc_errors_total\{event="grant",error="invalid_scope",service="idp"\} 1/);
    assert.match(text, /idp_sessions_active\{service="idp"\} 1/);
  });
});
