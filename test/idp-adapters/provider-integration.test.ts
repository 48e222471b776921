// Proves the adapters are wired the way oidc-provider calls them, not only the way the contract
// suite does: a real Provider issues, introspects and revokes an opaque client_credentials
// token, which it can only do through the adapter.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createOidcAdapter, type OidcAdapterFactory } from '../../idp/oidc/adapters/index.ts';
import { createTestRedis, redisProblem, REDIS_TEST_URL, skipLoudly } from '../../scripts/support/databases.ts';

interface ProviderInstance {
  callback(): RequestListener;
  on(event: string, listener: (...args: unknown[]) => void): void;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

// oidc-provider ships no type declarations; a non-literal specifier keeps tsc from demanding
// them, however the project later decides to provide them.
const oidcProviderModule: string = 'oidc-provider';
const { Provider } = (await import(oidcProviderModule)) as { Provider: ProviderConstructor };

const CLIENT_ID = 'svc';
const CLIENT_SECRET = 'a-long-random-secret-value-000000';
const basicAuth = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;

async function startProvider(adapter: OidcAdapterFactory): Promise<{ issuer: string; close(): Promise<void> }> {
  let handle: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    adapter,
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }],
    features: { clientCredentials: { enabled: true }, introspection: { enabled: true }, revocation: { enabled: true } },
  });
  // Surface adapter failures, which oidc-provider otherwise turns into an opaque server_error.
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error:', error));
  handle = provider.callback();
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

async function post(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: basicAuth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function issueIntrospectRevoke(t: TestContext, adapter: OidcAdapterFactory): Promise<void> {
  const { issuer, close } = await startProvider(adapter);
  try {
    const token = await post(`${issuer}/token`, { grant_type: 'client_credentials' });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const accessToken = token.body.access_token;
    assert.equal(typeof accessToken, 'string');
    assert.equal(token.body.token_type, 'Bearer');

    // An opaque token's value is its id in the store: this is where the adapter is proven used.
    const stored = await adapter('ClientCredentials').find(accessToken as string);
    assert.equal(stored?.clientId, CLIENT_ID, 'the token was saved through the adapter');

    const active = await post(`${issuer}/token/introspection`, { token: accessToken as string });
    assert.equal(active.status, 200, JSON.stringify(active.body));
    assert.equal(active.body.active, true);
    assert.equal(active.body.client_id, CLIENT_ID);

    const revoked = await post(`${issuer}/token/revocation`, { token: accessToken as string });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(await adapter('ClientCredentials').find(accessToken as string), undefined, 'revocation destroyed the entry');

    const inactive = await post(`${issuer}/token/introspection`, { token: accessToken as string });
    assert.equal(inactive.status, 200);
    assert.deepEqual(inactive.body, { active: false });
    t.diagnostic(`issued, introspected and revoked a token at ${issuer}`);
  } finally {
    await close();
  }
}

test('oidc-provider on the memory adapter issues, introspects and revokes', async (t) => {
  await issueIntrospectRevoke(t, createOidcAdapter());
});

test('oidc-provider on the redis adapter issues, introspects and revokes', async (t) => {
  const problem = await redisProblem();
  if (problem) return skipLoudly(t, `Redis at ${REDIS_TEST_URL}`, problem);
  const { redis, cleanup } = await createTestRedis();
  try {
    await issueIntrospectRevoke(t, createOidcAdapter({ redis }));
  } finally {
    await cleanup();
  }
});
