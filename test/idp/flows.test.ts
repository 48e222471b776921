// The full token lifecycle with openid-client 6 as the relying party, against a running idp on
// MariaDB + Redis, and the main flow on the embedded default (SQLite + in-process store).
import assert from 'node:assert/strict';
import { after, test, type TestContext } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { authorize, UserAgent } from '../../scripts/support/browser.ts';
import {
  API_AUDIENCE,
  API_SECRET,
  closeSharedResources,
  CONFIDENTIAL_REDIRECT,
  CONFIDENTIAL_SECRET,
  NATIVE_REDIRECT,
  seedLegacyUser,
  SERVICE_SECRET,
  storedPasswordHash,
  withIdp,
  type TestIdp,
} from '../support/idp.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';

after(closeSharedResources);

const insecure = { execute: [oidc.allowInsecureRequests] };

async function rp(idp: TestIdp, clientId: string, auth: oidc.ClientAuth, metadata: Partial<oidc.ClientMetadata> = {}): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(idp.issuer), clientId, metadata, auth, insecure);
}

async function expectOAuthError(promise: Promise<unknown>, error: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    const err = e as { error?: string; cause?: { error?: string } };
    assert.equal(err.error ?? err.cause?.error, error, `expected ${error}, got ${String(e)}`);
    return true;
  });
}

async function codeFlow(idp: TestIdp, config: oidc.Configuration, redirectUri: string, scope: string, username: string, agent = new UserAgent()) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await authorize(agent, url, redirectUri, { username, password: PASSWORD });
  // RFC 9207: openid-client checks `iss` because discovery announces it.
  assert.equal(callback.searchParams.get('iss'), idp.issuer);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  return { tokens, agent };
}

async function publicClientFlow(t: TestContext, idp: TestIdp): Promise<void> {
  const userId = await seedLegacyUser(idp, 'alice');
  assert.match(await storedPasswordHash(idp, userId), /^\$P\$/, 'starts with the legacy phpass hash');
  const config = await rp(idp, 'native-app', oidc.None());
  const { tokens } = await codeFlow(idp, config, NATIVE_REDIRECT, 'openid profile email offline_access', 'alice');

  assert.match(await storedPasswordHash(idp, userId), /^\$pbkdf2-sha256\$/, 'the legacy hash was upgraded by the login');
  const claims = tokens.claims();
  assert.equal(claims?.sub, userId);
  assert.equal(claims?.iss, idp.issuer);
  assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');

  const info = await oidc.fetchUserInfo(config, tokens.access_token, userId);
  assert.equal(info.preferred_username, 'alice');
  assert.equal(info.email, 'alice@example.test');

  // Introspection answers an authenticated resource server (orders-api), not the public client.
  const api = await rp(idp, 'orders-api', oidc.ClientSecretBasic(API_SECRET));
  const seen = await oidc.tokenIntrospection(api, tokens.access_token);
  assert.equal(seen.active, true);
  assert.equal(seen.sub, userId);
  assert.equal(seen.client_id, 'native-app');
  const asPublic = await oidc.tokenIntrospection(config, tokens.access_token);
  assert.equal(asPublic.active, false, 'a public client gets no introspection answer');

  // Rotation: every refresh gives a new refresh token.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  assert.ok(refreshed.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  await oidc.fetchUserInfo(config, refreshed.access_token, userId);

  // Reuse of the rotated one: refused, and the whole grant is revoked with it.
  await expectOAuthError(oidc.refreshTokenGrant(config, tokens.refresh_token!), 'invalid_grant');
  await expectOAuthError(oidc.refreshTokenGrant(config, refreshed.refresh_token!), 'invalid_grant');
  await assert.rejects(oidc.fetchUserInfo(config, refreshed.access_token, userId), 'the access token of the revoked grant is dead');
  t.diagnostic('public client: code + PKCE, legacy hash upgraded, userinfo, introspection, rotation, reuse revoked the grant');
}

test('MariaDB + Redis: code + PKCE, public client, legacy user upgraded, refresh rotation and reuse', async (t) => {
  await withIdp(t, { db: 'mysql', redis: true }, (idp) => publicClientFlow(t, idp));
});

test('embedded default (SQLite + in-process store): the same main flow', async (t) => {
  await withIdp(t, { db: 'sqlite', redis: false }, (idp) => publicClientFlow(t, idp));
});

async function confidentialFlow(t: TestContext, idp: TestIdp): Promise<void> {
  const userId = await seedLegacyUser(idp, 'bob');
  const config = await rp(idp, 'web-app', oidc.ClientSecretBasic(CONFIDENTIAL_SECRET));
  const { tokens, agent } = await codeFlow(idp, config, CONFIDENTIAL_REDIRECT, 'openid profile offline_access orders:read', 'bob');
  assert.match(await storedPasswordHash(idp, userId), /^\$pbkdf2-sha256\$/);
  assert.equal(tokens.claims()?.sub, userId);

  // The access token is for the orders API: a JWT with its audience and only the granted scope.
  const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: idp.issuer, audience: API_AUDIENCE, typ: 'at+jwt' });
  assert.equal(payload.scope, 'orders:read');
  assert.equal(payload.sub, userId);
  assert.equal(payload.client_id, 'web-app');
  assert.equal(protectedHeader.alg, 'RS256');

  // Revocation (RFC 7009) of the refresh token ends the grant.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  await oidc.tokenRevocation(config, refreshed.refresh_token!);
  await expectOAuthError(oidc.refreshTokenGrant(config, refreshed.refresh_token!), 'invalid_grant');

  // RP-initiated logout, confirmed on the logout page; back-channel logout reaches the RP.
  const endSession = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token!,
    post_logout_redirect_uri: 'https://app.example.test/signed-out',
    state: 'bye',
  });
  const page = await agent.request(endSession);
  assert.equal(page.status, 200);
  const html = await page.text();
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  const action = /<form[^>]*id="op\.logoutForm"[^>]*action="([^"]+)"/.exec(html)?.[1] ?? /action="([^"]+)"[^>]*id="op\.logoutForm"/.exec(html)?.[1];
  assert.ok(xsrf && action, 'the logout page carries the provider form');
  const confirmed = await agent.request(new URL(action, idp.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }),
  });
  await confirmed.body?.cancel();
  assert.equal(confirmed.status, 303);
  const back = new URL(confirmed.headers.get('location')!);
  assert.equal(back.origin + back.pathname, 'https://app.example.test/signed-out');
  assert.equal(back.searchParams.get('state'), 'bye');
  for (let i = 0; i < 50 && idp.logoutTokens.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(idp.logoutTokens.length, 1, 'one back-channel logout token was delivered');
  const logout = await jwtVerify(idp.logoutTokens[0]!, jwks, { issuer: idp.issuer, audience: 'web-app' });
  assert.equal(logout.payload.sub, userId);
  assert.ok((logout.payload.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);
  t.diagnostic('confidential client: code + PKCE, JWT access token for the API, revocation, logout with back-channel');
}

test('MariaDB + Redis: code + PKCE, confidential client, JWT access token, revocation, logout', async (t) => {
  await withIdp(t, { db: 'mysql', redis: true }, (idp) => confidentialFlow(t, idp));
});

test('MariaDB + Redis: client credentials give a JWT for the API with aud and scope', async (t) => {
  await withIdp(t, { db: 'mysql', redis: true }, async (idp) => {
    const config = await rp(idp, 'service', oidc.ClientSecretPost(SERVICE_SECRET));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'orders:read' });
    const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: idp.issuer, audience: API_AUDIENCE });
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.client_id, 'service');
    assert.equal(decodeProtectedHeader(tokens.access_token).kid, idp.oidc.keyRing.current.activeKid);

    // A scope the client is not registered for: invalid_scope, never a token with less.
    const narrow = await rp(idp, 'orders-api', oidc.ClientSecretBasic(API_SECRET));
    await expectOAuthError(oidc.clientCredentialsGrant(narrow, { scope: 'orders:write' }), 'invalid_scope');
    // A wrong secret: invalid_client.
    const wrong = await rp(idp, 'service', oidc.ClientSecretPost(`${SERVICE_SECRET}x`));
    await expectOAuthError(oidc.clientCredentialsGrant(wrong, { scope: 'orders:read' }), 'invalid_client');
  });
});
