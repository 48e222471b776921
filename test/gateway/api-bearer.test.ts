// API routes with an `auth` block in front of the real sample monolith's JSON API (api/me.php,
// which believes X-Remote-User from the gateway's address) and a real idp: the token's scopes
// decide 401/403, the legacy account comes from the token's claims, identity headers a client
// sends never arrive, the monolith's own session still works where the bearer is optional, a
// rotated signing key is picked up by its unknown kid, and opaque tokens are introspected.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader } from 'jose';
import { hashClientSecret } from '../../idp/oidc/client-secrets.ts';
import { closeSharedResources, SECRET_KEY, seedLegacyUser, type TestIdp } from '../support/idp.ts';
import {
  describeOrSkip,
  LEGACY_DEMO_PASSWORD,
  LegacyBrowser,
  legacyPhpUnavailableReason,
  startLegacyPhp,
  type LegacyPhp,
} from '../../scripts/support/legacy-php.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';
import { clientCredentials, startTokenIdp, userAccessToken } from './tokens.ts';
import { sample } from '../support/prometheus-text.ts';

const MEMBERS = 'https://members.example.test/api';
const ORDERS = 'https://orders.example.test/api';
const OTHER = 'https://other.example.test/api';
const GATEWAY_SECRET = 'gateway-introspection-secret-generated-0123456789ab';

const RESOURCES = `
resources:
  - audience: ${MEMBERS}
    scopes: { "api:read": Read your data, "api:write": Change your data }
    access_token_claims: [legacy_id, legacy_username]
  - audience: ${ORDERS}
    scopes: { "orders:read": Read your orders }
    access_token_format: opaque
    access_token_claims: [legacy_id, legacy_username]
    introspection_clients: [gateway]
  - audience: ${OTHER}
    scopes: { "other:read": Something else }
`;

const CLIENTS = `
clients:
  - client_id: gateway
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(GATEWAY_SECRET, SECRET_KEY)}"
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read
  - client_id: app
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(`${GATEWAY_SECRET}-app`, SECRET_KEY)}"
    response_types: []
    grant_types: [client_credentials]
    scope: api:read api:write orders:read other:read
`;

const routes = (echo: string) => `
upstreams:
  echo: ${echo}
routes:
  - name: api
    paths: [/api/*]
    auth:
      bearer: optional
      audience: ${MEMBERS}
      scopes: { GET: ["api:read"], default: ["api:write"] }
      headers: { X-Remote-User: legacy_username }
  - name: echo
    paths: [/echo/*]
    legacy: echo
    auth:
      bearer: required
      audience: ${MEMBERS}
      scopes: { default: ["api:read"] }
      headers: { X-Remote-User: legacy_username, X-Identity-Subject: sub, X-Identity-Legacy-Id: legacy_id, X-Identity-Client: client_id, X-Identity-Scopes: scope }
  - name: orders
    paths: [/orders/*]
    legacy: echo
    auth:
      bearer: required
      audience: ${ORDERS}
      scopes: { default: ["orders:read"] }
      headers: { X-Remote-User: legacy_username, X-Identity-Legacy-Id: legacy_id }
  - name: site
    paths: ['/*']
`;

const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('API routes take access tokens and check scopes', reason, () => {
  let php: LegacyPhp;
  let idp: TestIdp;
  let echo: TaggedUpstream;
  let gateway: TestGateway;
  let alice: string;
  let bob: string;

  before(async () => {
    php = await startLegacyPhp({ db: 'sqlite', env: { LEGACY_TRUSTED_USER_HEADER: 'X-Remote-User', LEGACY_TRUSTED_PROXIES: '127.0.0.1' } });
    idp = await startTokenIdp({ clients: CLIENTS, resources: RESOURCES, env: { IDP_KEYS_POLL_SECONDS: '1' } });
    // The monolith's first two demo users (seed.php): alice is user_id 1, bob 2.
    alice = await seedLegacyUser(idp, 'alice', '1');
    bob = await seedLegacyUser(idp, 'bob', '2');
    echo = await startUpstream('echo', (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
    });
    // A WebSocket upgrade is answered with the user the gateway named.
    echo.server.on('upgrade', (req, socket: Socket) =>
      socket.end(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-seen-user: ${String(req.headers['x-remote-user'])}\r\n\r\n`,
      ),
    );
    gateway = await startTestGateway(routes(echo.url), {
      LEGACY_UPSTREAM_URL: php.url,
      IDP_UPSTREAM_URL: idp.url,
      GATEWAY_TOKEN_ISSUER: idp.issuer,
      GATEWAY_OIDC_CLIENT_ID: 'gateway',
      GATEWAY_OIDC_CLIENT_SECRET: GATEWAY_SECRET,
      // A rotation is picked up after this; short here so the test need not wait 30 s.
      GATEWAY_JWKS_COOLDOWN_MS: '200',
    });
  });

  after(async () => {
    await gateway?.stop();
    await echo?.close();
    await idp?.stop();
    await php?.stop();
    await closeSharedResources();
  });

  const token = (sub: string, scope: string, options: { audience?: string; format?: 'opaque'; expiredSecondsAgo?: number } = {}) =>
    userAccessToken(idp, sub, { client: 'app', audience: options.audience ?? MEMBERS, scope, ...options });

  async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; challenge: string | null; json: Record<string, unknown> }> {
    const res = await fetch(`${gateway.url}${path}`, { headers });
    return { status: res.status, challenge: res.headers.get('www-authenticate'), json: (await res.json()) as Record<string, unknown> };
  }

  const bearer = (value: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${value}`, ...extra });

  test("a token with the API scope reads its own user's data from the monolith, named by the legacy username claim", async () => {
    const before = await gateway.metrics();
    for (const [sub, login, id] of [
      [alice, 'alice', 1],
      [bob, 'bob', 2],
    ] as const) {
      const res = await get('/api/me.php', bearer(await token(sub, 'api:read')));
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.login, login);
      assert.equal(res.json.user_id, id);
    }
    const counted =
      sample(await gateway.metrics(), 'gateway_bearer_checks_total', { route: 'api', outcome: 'ok' }) -
      sample(before, 'gateway_bearer_checks_total', { route: 'api', outcome: 'ok' });
    assert.equal(counted, 2);
    // A service's own token (client credentials) has no user, so no legacy claim and no X-Remote-User.
    const service = await clientCredentials(idp, 'app', `${GATEWAY_SECRET}-app`, 'api:read', MEMBERS);
    const noUser = await get('/api/me.php', bearer(service));
    assert.equal(noUser.status, 401, 'the monolith found no user');
    assert.equal(noUser.json.error, 'not_authenticated');
  });

  test('the identity headers the route names reach the upstream, with the verified values, first (verified) and again (cached)', async () => {
    const value = await token(bob, 'api:read api:write');
    for (const time of ['first', 'again']) {
      const res = await get('/echo/whoami', bearer(value));
      assert.equal(res.status, 200, time);
      assert.equal(res.json['x-remote-user'], 'bob', time);
      assert.equal(res.json['x-identity-subject'], bob, time);
      assert.equal(res.json['x-identity-legacy-id'], '2', time);
      assert.equal(res.json['x-identity-client'], 'app', time);
      assert.deepEqual(String(res.json['x-identity-scopes']).split(' ').sort(), ['api:read', 'api:write'], time);
    }
  });

  test('a token without the scope the method needs: 403 insufficient_scope naming it, and the upstream is never asked', async () => {
    const writeOnly = await token(alice, 'api:write');
    const seen = echo.seen.length;
    for (const path of ['/api/me.php', '/echo/x']) {
      const res = await get(path, bearer(writeOnly));
      assert.equal(res.status, 403, path);
      assert.equal(res.challenge, 'Bearer error="insufficient_scope", scope="api:read"');
      assert.equal(res.json.error, 'insufficient_scope');
    }
    assert.equal(echo.seen.length, seen);
    // The route's default covers the other methods: POST needs api:write, which this token has.
    const posted = await fetch(`${gateway.url}/echo/x`, { method: 'POST', headers: bearer(writeOnly), body: 'x' });
    assert.equal(posted.status, 403, 'the echo route needs api:read for every method');
    await posted.text();
    const res = await fetch(`${gateway.url}/api/nowhere.php`, { method: 'POST', headers: bearer(await token(alice, 'api:read')), body: 'x' });
    assert.equal(res.status, 403, 'POST on the api route falls to its default: api:write');
    assert.equal(res.headers.get('www-authenticate'), 'Bearer error="insufficient_scope", scope="api:write"');
    await res.text();
  });

  test("no token: 401 with a Bearer challenge where it is required; where optional, the monolith's own session still decides", async () => {
    const seen = echo.seen.length;
    const required = await get('/echo/x');
    assert.equal(required.status, 401);
    assert.equal(required.challenge, 'Bearer');
    assert.equal((await get('/echo/x', { authorization: 'Basic YWxpY2U6cHc=' })).status, 401, 'another scheme is no token');
    assert.equal(echo.seen.length, seen);

    const anonymous = await get('/api/me.php');
    assert.equal(anonymous.status, 401, 'the monolith answers for itself');
    assert.equal(anonymous.json.error, 'not_authenticated');
    assert.equal(anonymous.challenge, null, "the 401 is the monolith's, not the gateway's");

    const browser = new LegacyBrowser(gateway.url);
    assert.equal((await browser.login('carol', LEGACY_DEMO_PASSWORD)).status, 302);
    const me = await browser.get('api/me.php');
    assert.equal(me.status, 200, me.body);
    assert.equal((JSON.parse(me.body) as { login: string }).login, 'carol');
  });

  test('identity headers a client sends never arrive, with or without a token, in any spelling', async () => {
    const forged = { 'X-Remote-User': 'alice', 'x-identity-legacy-id': '1', 'X-IDENTITY-SUBJECT': alice, 'x-identity-scopes': 'api:read api:write' };
    // The monolith believes the header from the gateway's address: sent straight to it, it works.
    const direct = await fetch(`${php.url}/api/me.php`, { headers: forged });
    assert.equal(direct.status, 200, 'the sample monolith trusts X-Remote-User from 127.0.0.1, so this test can fail');
    await direct.text();

    const anonymous = await get('/api/me.php', forged);
    assert.equal(anonymous.status, 401, 'a forged X-Remote-User without a token reached the monolith');
    // PHP reads X_Remote_User as it reads X-Remote-User (both are HTTP_X_REMOTE_USER).
    const underscored = { X_Remote_User: 'alice' };
    const directUnderscored = await fetch(`${php.url}/api/me.php`, { headers: underscored });
    assert.equal(directUnderscored.status, 200, 'the sample monolith reads X_Remote_User as X-Remote-User, so this test can fail');
    await directUnderscored.text();
    assert.equal((await get('/api/me.php', underscored)).status, 401, 'a forged X_Remote_User without a token reached the monolith');
    const bobUnderscored = await get('/api/me.php', bearer(await token(bob, 'api:read'), underscored));
    assert.equal(bobUnderscored.json.login, 'bob', "the token's user, not the one spelled with underscores");

    const asBob = bearer(await token(bob, 'api:read'), forged);
    const me = await get('/api/me.php', asBob);
    assert.equal(me.status, 200);
    assert.equal(me.json.login, 'bob', "the token's user, not the forged one");
    // The token is cached now: the same checks on the path that needs no waiting.
    for (let i = 0; i < 2; i++) {
      const echoed = await get('/echo/x', asBob);
      assert.equal(echoed.json['x-remote-user'], 'bob');
      assert.equal(echoed.json['x-identity-legacy-id'], '2');
      assert.equal(echoed.json['x-identity-subject'], bob);
      assert.equal(echoed.json['x-identity-scopes'], 'api:read');
      assert.equal((await get('/api/me.php', asBob)).json.login, 'bob');
    }
  });

  test('an expired, other-audience, tampered or garbage token: 401 invalid_token, also where the bearer is optional', async () => {
    const valid = await token(alice, 'api:read');
    const [h, p, s] = valid.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, legacy_username: 'bob' })).toString('base64url')}.${s}`;
    const bad = {
      expired: await token(alice, 'api:read', { expiredSecondsAgo: 300 }),
      'other audience': await token(alice, 'api:read', { audience: OTHER }),
      tampered,
      garbage: 'not-a-token-at-all-but-long-enough',
    };
    for (const [what, value] of Object.entries(bad)) {
      for (const path of ['/api/me.php', '/echo/x']) {
        const res = await get(path, bearer(value));
        assert.equal(res.status, 401, `${what} on ${path}`);
        assert.equal(res.challenge, 'Bearer error="invalid_token"', what);
      }
    }
    // A token verified (and cached) for one API is still refused by another one's route.
    assert.equal((await get('/echo/x', bearer(valid))).status, 200);
    assert.equal((await get('/orders/x', bearer(valid))).status, 401, 'the members token on the orders route');
  });

  test('a WebSocket upgrade on an API route is checked the same way and carries the identity headers', async () => {
    const upgrade = (headers: Record<string, string>) =>
      new Promise<{ status: number; user?: string; challenge?: string }>((resolve, reject) => {
        const req = request(`${gateway.url}/echo/ws`, {
          headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve({ status: 101, user: String(res.headers['x-seen-user']) });
        });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, ...(res.headers['www-authenticate'] ? { challenge: String(res.headers['www-authenticate']) } : {}) });
        });
        req.on('error', reject);
        req.end();
      });
    assert.deepEqual(await upgrade({ 'x-remote-user': 'alice' }), { status: 401, challenge: 'Bearer' });
    assert.deepEqual(await upgrade(bearer(await token(bob, 'api:write'))), { status: 403, challenge: 'Bearer error="insufficient_scope", scope="api:read"' });
    assert.deepEqual(await upgrade(bearer(await token(bob, 'api:read'), { 'x-remote-user': 'alice' })), { status: 101, user: 'bob' });
  });

  test('a rotated signing key is picked up by its unknown kid, and tokens of the old key keep working', async () => {
    const old = await token(alice, 'api:read');
    assert.equal((await get('/api/me.php', bearer(old))).status, 200, 'the gateway holds the key set from before the rotation');
    const oldKid = decodeProtectedHeader(old).kid;
    for (const args of [['add-next'], ['promote', '--force']]) {
      const result = spawnSync(process.execPath, ['idp/cli/keys.ts', ...args], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', ...idp.env },
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    }
    let rotated: string | undefined;
    for (let i = 0; i < 100 && rotated === undefined; i++) {
      const fresh = await token(bob, 'api:read');
      if (decodeProtectedHeader(fresh).kid !== oldKid) rotated = fresh;
      else await sleep(100);
    }
    assert.ok(rotated, 'the idp signs with the new key');
    const me = await get('/api/me.php', bearer(rotated));
    assert.equal(me.status, 200, JSON.stringify(me.json));
    assert.equal(me.json.login, 'bob');
    assert.equal(
      (await get('/api/me.php', bearer(await token(alice, 'api:read')))).json.login,
      'alice',
      'a token the gateway has never seen, old key set refetched once',
    );
    assert.equal((await get('/api/me.php', bearer(old))).status, 200, 'the retiring key still verifies');
  });

  test('an opaque token is introspected by the gateway as its client: the account from the answer, refused once expired or unknown', async () => {
    const opaque = await token(alice, 'orders:read', { audience: ORDERS, format: 'opaque' });
    assert.ok(!opaque.includes('.'), 'not a JWT');
    const res = await get('/orders/list', bearer(opaque));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json['x-remote-user'], 'alice');
    assert.equal(res.json['x-identity-legacy-id'], '1');

    const unknown = await get('/orders/list', bearer('AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde'));
    assert.equal(unknown.status, 401);
    assert.equal(unknown.challenge, 'Bearer error="invalid_token"');
    const noScope = await get('/orders/list', bearer(await token(alice, 'other:read', { audience: ORDERS, format: 'opaque' })));
    assert.equal(noScope.status, 403);

    // A gateway whose client the idp refuses accepts no opaque token (and does not claim an outage).
    const misconfigured = await startTestGateway(routes(echo.url), {
      LEGACY_UPSTREAM_URL: php.url,
      IDP_UPSTREAM_URL: idp.url,
      GATEWAY_TOKEN_ISSUER: idp.issuer,
      GATEWAY_OIDC_CLIENT_ID: 'gateway',
      GATEWAY_OIDC_CLIENT_SECRET: `${GATEWAY_SECRET}-wrong`,
    });
    try {
      const refused = await fetch(`${misconfigured.url}/orders/list`, { headers: bearer(opaque) });
      assert.equal(refused.status, 401);
      await refused.text();
    } finally {
      await misconfigured.stop();
    }

    // The answer is cached for GATEWAY_INTROSPECTION_CACHE_S (30 s), but never past the token's exp.
    const shortLived = await token(bob, 'orders:read', { audience: ORDERS, format: 'opaque', expiredSecondsAgo: -5 });
    const expiresAt = Date.now() + 5_000;
    assert.equal((await get('/orders/list', bearer(shortLived))).status, 200, 'valid for 5 s (a busy machine took longer?)');
    await sleep(expiresAt - Date.now() + 1_500);
    assert.equal((await get('/orders/list', bearer(shortLived))).status, 401, 'an introspection answer outlived the token');
  });
});
