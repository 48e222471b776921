// The admin API and CLI with idp access tokens instead of GATEWAY_ADMIN_TOKEN: a real idp issues
// them (client_credentials), the gateway verifies them against the idp's JWKS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeSharedResources, type TestIdp } from '../support/idp.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';
import { ADMIN_AUDIENCE, clientCredentials, OPS_SECRET, ORDERS_SECRET, OTHER_AUDIENCE, startTokenIdp, userAccessToken, VIEWER_SECRET } from './tokens.ts';

const ROUTES = 'routes:\n  - { name: app, paths: ["/*"] }\n';

let idp: TestIdp;
let legacy: TaggedUpstream;
let gateway: TestGateway;

before(async () => {
  idp = await startTokenIdp();
  legacy = await startUpstream('legacy');
  gateway = await startTestGateway(ROUTES, {
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: idp.url,
    GATEWAY_TOKEN_ISSUER: idp.issuer,
    GATEWAY_ADMIN_AUDIENCE: ADMIN_AUDIENCE,
    GATEWAY_TOKEN_CLOCK_TOLERANCE_S: '5',
  });
});

after(async () => {
  await gateway?.stop();
  await legacy?.close();
  await idp?.stop();
  await closeSharedResources();
});

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['gateway/cli/routes.ts', ...args],
      { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', GATEWAY_ADMIN_URL: gateway.url, USER: 'ops-tester', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

test('admin API: a client_credentials token with gateway:admin lists and flips; the audit log names the client, not the body', async () => {
  const token = await clientCredentials(idp, 'gateway-ops', OPS_SECRET, 'gateway:admin');
  const list = await gateway.admin('GET', '/routes', undefined, token);
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.json.routes.map((r: { name: string }) => r.name),
    ['app'],
  );

  const flip = await gateway.admin('PUT', '/routes/app/flag', { mode: 'canary', percent: 5, reason: 'token flip', actor: 'someone-else' }, token);
  assert.equal(flip.status, 200, JSON.stringify(flip.json));
  const audit = await gateway.admin('GET', '/audit?route=app&limit=1', undefined, token);
  assert.equal(audit.status, 200);
  assert.equal(audit.json.entries[0].actor, 'gateway-ops', 'the token says who, a body field cannot override it');
  assert.equal(audit.json.entries[0].reason, 'token flip');

  // A user's token (sub differs from client_id) is recorded as both.
  const userToken = await userAccessToken(idp, 'alice-42', { scope: 'gateway:admin' });
  assert.equal((await gateway.admin('POST', '/routes/app/flip', { mode: 'legacy', reason: 'user flip' }, userToken)).status, 200);
  assert.equal((await gateway.admin('GET', '/audit?route=app&limit=1', undefined, token)).json.entries[0].actor, 'alice-42 via gateway-viewer');
});

test('admin API: a valid token without gateway:admin is 403 insufficient_scope, and changes nothing', async () => {
  const token = await clientCredentials(idp, 'gateway-viewer', VIEWER_SECRET, 'gateway:status');
  const before = (await gateway.admin('GET', '/audit')).json.entries.length;
  for (const [method, path, body] of [
    ['GET', '/routes'],
    ['PUT', '/routes/app/flag', { mode: 'idp', reason: 'no scope' }],
    ['GET', '/audit'],
  ] as const) {
    const res = await fetch(`${gateway.url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="gateway:admin"/);
    assert.equal(((await res.json()) as { error: string }).error, 'insufficient_scope');
  }
  assert.equal((await gateway.admin('GET', '/audit')).json.entries.length, before);
});

test('admin API: wrong audience, expired, tampered, unsigned or garbage tokens are 401 invalid_token', async () => {
  // A good token of ours, but for another API: a token for one API is no key to another.
  const otherAudience = await clientCredentials(idp, 'orders', ORDERS_SECRET, 'orders:read', OTHER_AUDIENCE);
  const expired = await userAccessToken(idp, 'alice-42', { scope: 'gateway:admin', expiredSecondsAgo: 60 });
  const valid = await clientCredentials(idp, 'gateway-ops', OPS_SECRET, 'gateway:admin');
  const [header, payload, signature] = valid.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url')}.${signature}`;
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
  const cases: Array<[string, string]> = [
    ['another audience', otherAudience],
    ['expired', expired],
    ['tampered payload', tampered],
    ['alg none', unsigned],
    ['garbage', 'not-a-token-at-all'],
    ['garbage JWT shape', 'aaa.bbb.ccc'],
  ];
  for (const [what, token] of cases) {
    const res = await fetch(`${gateway.url}/admin/api/routes`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401, what);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/, what);
    assert.equal(((await res.json()) as { error: string }).error, 'unauthorized', what);
  }
  const none = await fetch(`${gateway.url}/admin/api/routes`);
  assert.equal(none.status, 401);
  assert.doesNotMatch(none.headers.get('www-authenticate') ?? '', /error=/, 'no token at all: no error code (RFC 6750 3.1)');
  await none.text();
  // The shared admin token still works.
  assert.equal((await gateway.admin('GET', '/routes')).status, 200);
});

test('admin API: an access token from another issuer is refused even when its keys are the same idp', async () => {
  const strict = await startTestGateway(ROUTES, {
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: idp.url,
    GATEWAY_TOKEN_ISSUER: 'https://someone-else.example.test',
    GATEWAY_ADMIN_AUDIENCE: ADMIN_AUDIENCE,
  });
  try {
    const token = await clientCredentials(idp, 'gateway-ops', OPS_SECRET, 'gateway:admin');
    assert.equal((await strict.admin('GET', '/routes', undefined, token)).status, 401);
  } finally {
    await strict.stop();
  }
});

test('CLI: GATEWAY_ADMIN_ACCESS_TOKEN flips with the token; the audit names its client; a scope-less token is refused (exit 1)', async () => {
  const token = await clientCredentials(idp, 'gateway-ops', OPS_SECRET, 'gateway:admin');
  const flipped = await runCli(['flip', 'app', 'idp', '--reason', 'cli with a token'], { GATEWAY_ADMIN_ACCESS_TOKEN: token });
  assert.equal(flipped.code, 0, flipped.out);
  assert.match(flipped.out, /app: .* -> idp/);
  const audit = await runCli(['audit', '--route', 'app', '--limit', '1'], { GATEWAY_ADMIN_ACCESS_TOKEN: token });
  assert.equal(audit.code, 0, audit.out);
  assert.match(audit.out, /by gateway-ops \(api\): cli with a token/);

  const viewer = await clientCredentials(idp, 'gateway-viewer', VIEWER_SECRET, 'gateway:status');
  const refused = await runCli(['flip', 'app', 'legacy', '--reason', 'no scope'], { GATEWAY_ADMIN_ACCESS_TOKEN: viewer });
  assert.equal(refused.code, 1);
  assert.match(refused.out, /refused \(403 insufficient_scope\)/);
  const missing = await runCli(['list'], {});
  assert.equal(missing.code, 2);
  assert.match(missing.out, /neither GATEWAY_ADMIN_ACCESS_TOKEN nor GATEWAY_ADMIN_TOKEN is set/);
});

test('admin API: the idp unreachable for its keys is 503, not a silent 401', async () => {
  const dark = await startTestGateway(ROUTES, {
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: 'http://127.0.0.1:9',
    GATEWAY_TOKEN_ISSUER: idp.issuer,
    GATEWAY_ADMIN_AUDIENCE: ADMIN_AUDIENCE,
  });
  try {
    const token = await clientCredentials(idp, 'gateway-ops', OPS_SECRET, 'gateway:admin');
    const res = await dark.admin('GET', '/routes', undefined, token);
    assert.equal(res.status, 503);
    assert.equal(res.json.error, 'token_verification_unavailable');
  } finally {
    await dark.stop();
  }
});

test('the repository files: idp/resources.yaml declares the admin resource and idp/clients.yaml the gateway-ops client (development secret)', async () => {
  const devIdp = await startTokenIdp({
    clients: readFileSync(join(repoRoot, 'idp/clients.yaml'), 'utf8'),
    resources: readFileSync(join(repoRoot, 'idp/resources.yaml'), 'utf8'),
    env: { IDP_CLIENT_SECRET_KEY: 'dev-only-idp-client-secret-hmac-key-change-me' },
  });
  // The gateway's defaults (audience, scope) must match what the files declare.
  const devGateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: devIdp.url, IDP_ISSUER: devIdp.issuer });
  try {
    const token = await clientCredentials(devIdp, 'gateway-ops', 'dev-only-gateway-ops-client-secret-change-me', 'gateway:admin');
    const flip = await devGateway.admin('PUT', '/routes/app/flag', { mode: 'shadow', reason: 'dev files' }, token);
    assert.equal(flip.status, 200, JSON.stringify(flip.json));
    assert.equal((await devGateway.admin('GET', '/audit?limit=1')).json.entries[0].actor, 'gateway-ops');
  } finally {
    await devGateway.stop();
    await devIdp.stop();
  }
});
