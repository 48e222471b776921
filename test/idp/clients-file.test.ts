// The clients and resources files: validated at start, every problem named by client and field.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadClientsFile } from '../../idp/oidc/clients.ts';
import { hashClientSecret } from '../../idp/oidc/client-secrets.ts';
import { loadResourcesFile } from '../../idp/oidc/resources.ts';
import { DeclarationFileError } from '../../idp/oidc/yaml-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'idp-clients-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEY = 'file-test-hmac-key-0123456789abcdef';
const known = new Set(['openid', 'profile', 'email', 'offline_access', 'orders:read']);
let n = 0;

function load(yaml: string, env: Record<string, string> = {}, allowHttpLoopbackForWeb = false) {
  const file = join(dir, `clients-${++n}.yaml`);
  writeFileSync(file, yaml);
  return loadClientsFile(file, { secretKey: KEY, knownScopes: known, allowHttpLoopbackForWeb, env });
}

function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    load(yaml, env);
  } catch (error) {
    assert.ok(error instanceof DeclarationFileError, String(error));
    return error.problems;
  }
  assert.fail('the file was accepted');
}

test('a valid file loads, with secrets only as hashes', () => {
  const clients = load(
    `clients:
  - client_id: web
    client_secret_hash: "${hashClientSecret('s'.repeat(43), KEY)}"
    redirect_uris: [https://web.example.test/cb]
    scope: openid profile
  - client_id: svc
    token_endpoint_auth_method: client_secret_post
    client_secret_env: SVC_SECRET
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read
`,
    { SVC_SECRET: 'x'.repeat(43) },
  );
  assert.equal(clients.length, 2);
  assert.equal(clients[1]?.client_secret, hashClientSecret('x'.repeat(43), KEY));
  assert.ok(!JSON.stringify(clients).includes('x'.repeat(43)));
});

test('web clients: https redirect URIs only; native apps: http on loopback only', () => {
  const found = problems(`clients:
  - client_id: web
    token_endpoint_auth_method: none
    redirect_uris: [http://web.example.test/cb, http://localhost:3000/cb]
    scope: openid
  - client_id: app
    application_type: native
    token_endpoint_auth_method: none
    redirect_uris: [http://app.example.test/cb, https://127.0.0.1/cb]
    scope: openid
`);
  assert.ok(
    found.some((p) => p.startsWith('client "web": redirect_uris[0]') && /https/.test(p)),
    found.join('\n'),
  );
  assert.ok(
    found.some((p) => p.startsWith('client "web": redirect_uris[1]')),
    'localhost http is for native apps only',
  );
  assert.ok(found.some((p) => p.startsWith('client "app": redirect_uris[0]') && /loopback/.test(p)));
  assert.ok(found.some((p) => p.startsWith('client "app": redirect_uris[1]')));
});

test('development may allow http loopback for web clients, never for implicit ones', () => {
  const file = `clients:
  - client_id: gw
    token_endpoint_auth_method: none
    redirect_uris: [http://localhost:3000/cb]
    scope: openid
`;
  assert.equal(load(file, {}, true).length, 1);
  assert.throws(
    () =>
      load(
        `clients:
  - client_id: spa
    token_endpoint_auth_method: none
    redirect_uris: [http://localhost:3000/cb]
    response_types: [id_token token]
    grant_types: [implicit]
    scope: openid
`,
        {},
        true,
      ),
    /client "spa": redirect_uris\[0\]/,
  );
});

test('secrets: never in the file, never client_secret_jwt, never for public clients', () => {
  const found = problems(`clients:
  - client_id: plain
    client_secret_hash: "my-secret-in-the-file"
    redirect_uris: [https://a.example.test/cb]
    scope: openid
  - client_id: jwt
    token_endpoint_auth_method: client_secret_jwt
    client_secret_env: JWT_SECRET
    redirect_uris: [https://a.example.test/cb]
    scope: openid
  - client_id: pub
    token_endpoint_auth_method: none
    client_secret_env: PUB_SECRET
    redirect_uris: [https://a.example.test/cb]
    scope: openid
  - client_id: missing
    client_secret_env: NOT_SET_ANYWHERE
    redirect_uris: [https://a.example.test/cb]
    scope: openid
`);
  assert.ok(
    found.some((p) => p.startsWith('client "plain": client_secret_hash') && /never the secret itself/.test(p)),
    found.join('\n'),
  );
  assert.ok(found.some((p) => p.startsWith('client "jwt": token_endpoint_auth_method') && /plaintext/.test(p)));
  assert.ok(found.some((p) => p.startsWith('client "pub": client_secret_hash')));
  assert.ok(found.some((p) => p.startsWith('client "missing": client_secret_env') && /NOT_SET_ANYWHERE is not set/.test(p)));
});

test('first_party (no consent page) only for a confidential web client', () => {
  const found = problems(
    `clients:
  - client_id: public-site
    token_endpoint_auth_method: none
    first_party: true
    redirect_uris: [https://a.example.test/cb]
    scope: openid
  - client_id: app
    application_type: native
    token_endpoint_auth_method: none
    first_party: true
    redirect_uris: ["http://127.0.0.1/cb"]
    scope: openid
  - client_id: own-site
    client_secret_env: OWN_SITE_SECRET
    first_party: true
    redirect_uris: [https://a.example.test/cb]
    scope: openid
`,
    { OWN_SITE_SECRET: 'own-site-secret-0123456789abcdefghijklmnop' },
  );
  assert.ok(
    found.some((p) => p.startsWith('client "public-site": first_party')),
    found.join('\n'),
  );
  assert.ok(
    found.some((p) => p.startsWith('client "app": first_party')),
    found.join('\n'),
  );
  assert.ok(!found.some((p) => p.startsWith('client "own-site"')), found.join('\n'));
});

test('scopes must exist, fields must be known, grants must match response types', () => {
  const found = problems(`clients:
  - client_id: a
    token_endpoint_auth_method: none
    redirect_uris: [https://a.example.test/cb]
    scope: openid orders:delete
  - client_id: b
    token_endpoint_auth_method: none
    redirect_uri: [https://b.example.test/cb]
    scope: openid
  - client_id: c
    token_endpoint_auth_method: none
    redirect_uris: [https://c.example.test/cb]
    response_types: [id_token]
    grant_types: [authorization_code]
    scope: openid
  - client_id: d
    token_endpoint_auth_method: none
    response_types: []
    grant_types: [client_credentials]
    scope: openid
`);
  assert.ok(
    found.some((p) => p.startsWith('client "a": scope') && /orders:delete/.test(p)),
    found.join('\n'),
  );
  assert.ok(
    found.some((p) => p.startsWith('client "b"') && /redirect_uri/.test(p)),
    'a typo is an unknown field',
  );
  assert.ok(found.some((p) => p.startsWith('client "c": grant_types')));
  assert.ok(found.some((p) => p.startsWith('client "d": grant_types') && /confidential/.test(p)));
});

test('a missing or malformed file says so', () => {
  assert.throws(
    () => loadClientsFile(join(dir, 'nope.yaml'), { secretKey: KEY, knownScopes: known, allowHttpLoopbackForWeb: false }),
    /nope\.yaml is invalid:\n {2}- cannot be read: ENOENT/,
  );
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'clients: [\n');
  assert.throws(() => loadClientsFile(file, { secretKey: KEY, knownScopes: known, allowHttpLoopbackForWeb: false }), /is not valid YAML/);
});

test('resources: one owner per scope, audiences are absolute URLs', () => {
  const file = join(dir, 'resources.yaml');
  writeFileSync(
    file,
    `resources:
  - audience: https://a.example.test/
    scopes: { shared: A }
  - audience: https://b.example.test/
    scopes: { shared: B }
`,
  );
  assert.throws(() => loadResourcesFile(file), /scope "shared" is declared by both/);
  writeFileSync(file, `resources:\n  - audience: not-a-url\n    scopes: { x: X }\n`);
  assert.throws(() => loadResourcesFile(file), /resource "not-a-url": audience/);
});
