// What the idp must refuse, with the error codes of RFC 6749, RFC 7591 and OIDC Core, where
// oidc-provider's defaults would answer differently or more leniently.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as oidc from 'openid-client';
import { authorize, UserAgent } from '../../scripts/support/browser.ts';
import {
  API_AUDIENCE,
  closeSharedResources,
  CONFIDENTIAL_REDIRECT,
  CONFIDENTIAL_SECRET,
  NATIVE_REDIRECT,
  REGISTRATION_TOKEN,
  seedLegacyUser,
  SERVICE_SECRET,
  startTestIdp,
  storageProblem,
  type Storage,
  type TestIdp,
} from '../support/idp.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';
import { TOKEN_ALONE_DESCRIPTION } from '../../idp/oidc/spec-errors.ts';

const storage: Storage = { db: 'mysql', redis: true };
let idp: TestIdp | undefined;
let skipped: string | undefined;

before(async () => {
  skipped = await storageProblem(storage);
  if (!skipped) {
    idp = await startTestIdp({ storage });
    await seedLegacyUser(idp, 'carol');
  }
});
after(async () => {
  await idp?.stop();
  await closeSharedResources();
});

function ready(t: { skip(message: string): void }): TestIdp | undefined {
  if (!idp) {
    console.warn(`\n*** SKIPPED: ${skipped}; these tests did NOT run ***\n`);
    t.skip(`SKIPPED: ${skipped}`);
  }
  return idp;
}

/** One authorization request, no redirects followed. */
async function authRequest(server: TestIdp, params: Record<string, string>): Promise<Response> {
  const url = new URL('/auth', server.issuer);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return fetch(url, { redirect: 'manual' });
}

/** The error parameters of a redirect back to the client (query or fragment). */
function redirectError(response: Response, redirectUri: string): URLSearchParams {
  assert.equal(response.status, 303, `expected a redirect to the client, got ${response.status}`);
  const location = new URL(response.headers.get('location')!);
  assert.equal(`${location.origin}${location.pathname}`, redirectUri);
  return new URLSearchParams(location.hash ? location.hash.slice(1) : location.search);
}

async function pkcePair() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
}

const native = { client_id: 'native-app', redirect_uri: NATIVE_REDIRECT, response_type: 'code', scope: 'openid', state: 'st' };

test('a public client without PKCE is refused (invalid_request)', async (t) => {
  const server = ready(t);
  if (!server) return;
  const error = redirectError(await authRequest(server, native), NATIVE_REDIRECT);
  assert.equal(error.get('error'), 'invalid_request');
  assert.match(error.get('error_description') ?? '', /PKCE/);
  assert.equal(error.get('state'), 'st');
  assert.equal(error.get('iss'), server.issuer, 'RFC 9207: errors carry iss too');
});

test('PKCE with the plain method is refused (invalid_request)', async (t) => {
  const server = ready(t);
  if (!server) return;
  const error = redirectError(await authRequest(server, { ...native, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }), NATIVE_REDIRECT);
  assert.equal(error.get('error'), 'invalid_request');
  assert.match(error.get('error_description') ?? '', /code_challenge_method/);
});

test('a confidential web client without PKCE is refused too (IDP_PKCE_REQUIRED_FOR_CONFIDENTIAL defaults to true)', async (t) => {
  const server = ready(t);
  if (!server) return;
  const error = redirectError(await authRequest(server, { ...native, client_id: 'web-app', redirect_uri: CONFIDENTIAL_REDIRECT }), CONFIDENTIAL_REDIRECT);
  assert.equal(error.get('error'), 'invalid_request');
});

test('a redirect URI that is not registered exactly gets an error page, never a redirect', async (t) => {
  const server = ready(t);
  if (!server) return;
  const { challenge } = await pkcePair();
  for (const redirect of [
    'https://evil.example.test/callback',
    `${CONFIDENTIAL_REDIRECT}/`,
    `${CONFIDENTIAL_REDIRECT}?x=1`,
    'https://APP.example.test/callback',
  ]) {
    const response: Response = await fetch(
      new URL(
        `/auth?${new URLSearchParams({ ...native, client_id: 'web-app', redirect_uri: redirect, code_challenge: challenge, code_challenge_method: 'S256' })}`,
        server.issuer,
      ),
      { redirect: 'manual', headers: { accept: 'text/html' } },
    );
    const body = await response.text();
    assert.equal(response.status, 400, redirect);
    assert.equal(response.headers.get('location'), null, `no redirect for ${redirect}`);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(body, /invalid_redirect_uri/);
  }
});

test('a scope the client is not registered for is refused with invalid_scope, not silently dropped', async (t) => {
  const server = ready(t);
  if (!server) return;
  const { challenge } = await pkcePair();
  const error = redirectError(
    await authRequest(server, { ...native, scope: 'openid orders:write', code_challenge: challenge, code_challenge_method: 'S256' }),
    NATIVE_REDIRECT,
  );
  assert.equal(error.get('error'), 'invalid_scope');
  assert.equal(error.get('scope'), 'orders:write');
});

test('implicit and hybrid for a client not registered for them: unauthorized_client', async (t) => {
  const server = ready(t);
  if (!server) return;
  const { challenge } = await pkcePair();
  for (const responseType of ['id_token token', 'id_token', 'code id_token']) {
    const error = redirectError(
      await authRequest(server, {
        ...native,
        client_id: 'web-app',
        redirect_uri: CONFIDENTIAL_REDIRECT,
        response_type: responseType,
        nonce: 'n',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      CONFIDENTIAL_REDIRECT,
    );
    assert.equal(error.get('error'), 'unauthorized_client', responseType);
  }
});

test('response_type=token alone: unsupported_response_type that names what to use instead', async (t) => {
  const server = ready(t);
  if (!server) return;
  const error = redirectError(
    await authRequest(server, { client_id: 'spa', redirect_uri: 'https://spa.example.test/callback', response_type: 'token', scope: 'openid', state: 's' }),
    'https://spa.example.test/callback',
  );
  assert.equal(error.get('error'), 'unsupported_response_type');
  assert.equal(error.get('error_description'), TOKEN_ALONE_DESCRIPTION);
  assert.match(TOKEN_ALONE_DESCRIPTION, /id_token token/);
  assert.match(TOKEN_ALONE_DESCRIPTION, /PKCE/);
});

test('a grant type the client is not registered for: unauthorized_client at the token endpoint', async (t) => {
  const server = ready(t);
  if (!server) return;
  const response = await fetch(new URL('/token', server.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'service', client_secret: SERVICE_SECRET }),
  });
  assert.equal(response.status, 400);
  assert.equal(((await response.json()) as { error: string }).error, 'unauthorized_client');
});

test('a wrong PKCE verifier, then a reused code: invalid_grant, and the tokens the code gave are revoked', async (t) => {
  const server = ready(t);
  if (!server) return;
  const config = await oidc.discovery(new URL(server.issuer), 'web-app', {}, oidc.ClientSecretBasic(CONFIDENTIAL_SECRET), {
    execute: [oidc.allowInsecureRequests],
  });
  const { verifier, challenge } = await pkcePair();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CONFIDENTIAL_REDIRECT,
    scope: 'openid offline_access',
    prompt: 'consent',
    state: 's',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const callback = await authorize(new UserAgent(), url, CONFIDENTIAL_REDIRECT, { username: 'carol', password: PASSWORD });
  const code = callback.searchParams.get('code')!;
  const exchange = (codeVerifier: string) =>
    fetch(new URL('/token', server.issuer), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web-app:${CONFIDENTIAL_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CONFIDENTIAL_REDIRECT, code_verifier: codeVerifier }),
    });

  const wrong = await exchange(oidc.randomPKCECodeVerifier());
  assert.equal(wrong.status, 400);
  assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_grant');

  const first = await exchange(verifier);
  assert.equal(first.status, 200, 'a failed verifier does not burn the code for its rightful owner');
  const tokens = (await first.json()) as { access_token: string; refresh_token: string };
  await oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck);

  const replay = await exchange(verifier);
  assert.equal(replay.status, 400);
  assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
  await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck), 'the access token the code gave is revoked');
  await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), 'so is its refresh token');
});

test('dynamic registration: guarded by the initial access token, https only for web, secrets generated and stored hashed', async (t) => {
  const server = ready(t);
  if (!server) return;
  const register = (body: Record<string, unknown>, token: string = REGISTRATION_TOKEN) =>
    fetch(new URL('/reg', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token !== 'none' ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const web = { redirect_uris: ['https://registered.example.test/cb'], grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'] };

  assert.equal((await register(web, 'none')).status, 401);
  assert.equal((await register(web, 'wrong-token')).status, 401);

  const http = await register({ ...web, redirect_uris: ['http://registered.example.test/cb'] });
  assert.equal(http.status, 400);
  assert.equal(((await http.json()) as { error: string }).error, 'invalid_redirect_uri');
  const localhostWeb = await register({ ...web, redirect_uris: ['http://localhost:8000/cb'] });
  assert.equal(localhostWeb.status, 400, 'http on loopback is for native apps only');
  await localhostWeb.body?.cancel();
  const nativeLoopback = await register({ application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/cb'] });
  assert.equal(nativeLoopback.status, 201);
  await nativeLoopback.body?.cancel();

  const apiScope = await register({ ...web, scope: `openid orders:read` });
  assert.equal(apiScope.status, 400, 'API scopes are never self-granted');
  assert.equal(((await apiScope.json()) as { error: string }).error, 'invalid_client_metadata');
  const firstParty = await register({ ...web, first_party: true });
  assert.equal(firstParty.status, 400, 'only the clients file may let a client skip consent');
  assert.match(((await firstParty.json()) as { error_description: string }).error_description, /first_party is declared in the clients file only/);
  const secretJwt = await register({ ...web, token_endpoint_auth_method: 'client_secret_jwt' });
  assert.equal(secretJwt.status, 400, 'client_secret_jwt would need the plaintext secret');
  await secretJwt.body?.cancel();

  const created = await register({ ...web, client_secret: 'i-chose-this-secret-myself-0123456789' });
  assert.equal(created.status, 201);
  const client = (await created.json()) as { client_id: string; client_secret: string; scope: string };
  assert.notEqual(client.client_secret, 'i-chose-this-secret-myself-0123456789', 'a chosen secret is replaced by a generated one');
  assert.ok(client.client_secret.length >= 43);
  assert.equal(client.scope, 'openid profile email offline_access', 'the registration scopes by default');

  const stored = await (server.provider.Client.adapter as { find(id: string): Promise<Record<string, unknown>> }).find(client.client_id);
  assert.match(String(stored.client_secret), /^\$hmac-sha256\$/, 'only a keyed hash is stored');
  assert.ok(!JSON.stringify(stored).includes(client.client_secret), 'the plaintext secret is nowhere in the stored record');

  const config = await oidc.discovery(new URL(server.issuer), client.client_id, {}, oidc.ClientSecretBasic(client.client_secret), {
    execute: [oidc.allowInsecureRequests],
  });
  const tokens = await oidc.clientCredentialsGrant(config);
  assert.ok(tokens.access_token, 'the generated secret authenticates');
  const chosen = await oidc.discovery(new URL(server.issuer), client.client_id, {}, oidc.ClientSecretBasic('i-chose-this-secret-myself-0123456789'), {
    execute: [oidc.allowInsecureRequests],
  });
  await assert.rejects(oidc.clientCredentialsGrant(chosen), 'the chosen secret does not');
});

test('clients from the file hold only the hash of their secret in memory too', async (t) => {
  const server = ready(t);
  if (!server) return;
  const client = await server.provider.Client.find('web-app');
  assert.match(String(client?.clientSecret), /^\$hmac-sha256\$/);
  const service = await server.provider.Client.find('service');
  assert.match(String(service?.clientSecret), /^\$hmac-sha256\$/, 'a secret read from the environment is hashed at load');
  void API_AUDIENCE;
});
