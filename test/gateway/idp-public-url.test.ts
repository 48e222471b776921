// The idp builds its discovery and endpoint URLs from X-Forwarded-Host/-Proto: through the
// gateway it only ever gets its issuer's, whatever Host the client (or a proxy) sent, and
// reached directly it builds them from its issuer as well.
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { after, before, test } from 'node:test';
import { closeSharedResources, type TestIdp } from '../support/idp.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';
import { startTokenIdp } from './tokens.ts';

const ISSUER = 'https://login.example.test';
const HOSTILE = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' };

let legacy: TaggedUpstream;
let fakeIdp: TaggedUpstream;
let gateway: TestGateway;

before(async () => {
  legacy = await startUpstream('legacy');
  fakeIdp = await startUpstream('new');
  gateway = await startTestGateway(
    `
routes:
  - { name: oidc, paths: [/.well-known/*, /token], default: idp }
  - { name: form, paths: [/form.php] }
  - { name: site, paths: ['/*'] }
`,
    // The test client is on loopback, which TRUST_PROXY trusts by default: the strongest case,
    // a trusted proxy passing the client's Host on.
    { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: fakeIdp.url, IDP_ISSUER: ISSUER },
  );
});

after(async () => {
  await gateway?.stop();
  await Promise.all([legacy?.close(), fakeIdp?.close()]);
  await closeSharedResources();
});

function get(
  base: string,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? 'a=1' : undefined);
  });
}

const forwardedTo = (upstream: TaggedUpstream, path: string) => {
  const seen = upstream.seen.filter((r) => r.url === path && r.headers['x-gateway-shadow'] === undefined).at(-1);
  assert.ok(seen, `${upstream.url} never got ${path}`);
  return { host: seen.headers['x-forwarded-host'], proto: seen.headers['x-forwarded-proto'] };
};

test('the idp upstream gets the issuer as X-Forwarded-Host/-Proto in every mode; the legacy side keeps what it got', async () => {
  // idp mode (the hot path) and an https-less request with a hostile Host and forwarding headers.
  await get(gateway.url, '/.well-known/openid-configuration', HOSTILE);
  assert.deepEqual(forwardedTo(fakeIdp, '/.well-known/openid-configuration'), { host: 'login.example.test', proto: 'https' });
  await get(gateway.url, '/page', HOSTILE);
  assert.deepEqual(forwardedTo(legacy, '/page'), { host: 'evil.example', proto: 'http' });

  // A canary between the two sides: each side gets its own forwarding, whichever the bucket picks.
  await gateway.flip('form', { mode: 'canary', percent: 50 });
  const sides = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const res = await get(gateway.url, `/form.php?visit=${i}`, HOSTILE);
    const side = String(res.headers['x-served-by']);
    sides.add(side);
    const expected = side === 'new' ? { host: 'login.example.test', proto: 'https' } : { host: 'evil.example', proto: 'http' };
    assert.deepEqual(forwardedTo(side === 'new' ? fakeIdp : legacy, `/form.php?visit=${i}`), expected, `visit ${i} on ${side}`);
  }
  assert.deepEqual([...sides].sort(), ['legacy', 'new']);

  // idp mode on the ordinary path too (a body-carrying POST in shadow's place: the mode decides).
  await gateway.flip('form', { mode: 'idp' });
  await get(gateway.url, '/form.php?posted', HOSTILE, 'POST');
  assert.deepEqual(forwardedTo(fakeIdp, '/form.php?posted'), { host: 'login.example.test', proto: 'https' });

  // Shadow: legacy answers with its forwarding; the copy to the idp carries the issuer's.
  await gateway.flip('form', { mode: 'shadow' });
  await get(gateway.url, '/form.php?shadowed', HOSTILE);
  assert.deepEqual(forwardedTo(legacy, '/form.php?shadowed'), { host: 'evil.example', proto: 'http' });
  const copied = async () => fakeIdp.seen.find((r) => r.url === '/form.php?shadowed' && r.headers['x-gateway-shadow'] === '1');
  for (let i = 0; i < 200 && !(await copied()); i++) await new Promise((r) => setTimeout(r, 20));
  const copy = await copied();
  assert.ok(copy, 'the shadow copy never reached the idp');
  assert.equal(copy.headers['x-forwarded-host'], 'login.example.test');
  assert.equal(copy.headers['x-forwarded-proto'], 'https');
});

test("the idp upstream gets one X-Forwarded-For, the client's address as the gateway's TRUST_PROXY resolves it; the legacy side gets the chain", async () => {
  // The test client is on loopback, which TRUST_PROXY trusts by default: it plays the load
  // balancer, and says the client is 203.0.113.9 (which itself claims to forward for 6.6.6.6).
  const chain = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' };
  const forwardedFor = (upstream: TaggedUpstream, path: string) => upstream.seen.filter((r) => r.url === path).at(-1)?.headers['x-forwarded-for'];
  await get(gateway.url, '/.well-known/openid-configuration', chain);
  assert.equal(forwardedFor(fakeIdp, '/.well-known/openid-configuration'), '203.0.113.9', 'the hot path');
  await gateway.flip('oidc', { mode: 'shadow' });
  try {
    await get(gateway.url, '/token', chain, 'POST');
    assert.equal(forwardedFor(legacy, '/token'), '6.6.6.6, 203.0.113.9, 127.0.0.1', 'the legacy side keeps the chain');
  } finally {
    await gateway.flip('oidc', { mode: 'idp' });
  }
  await get(gateway.url, '/token', chain, 'POST');
  assert.equal(forwardedFor(fakeIdp, '/token'), '203.0.113.9');
  // Every hop trusted: the leftmost; a malformed hop: the trusted proxy that wrote it.
  await get(gateway.url, '/.well-known/a', { 'x-forwarded-for': '127.0.0.2, 127.0.0.3' });
  assert.equal(forwardedFor(fakeIdp, '/.well-known/a'), '127.0.0.2');
  await get(gateway.url, '/.well-known/b', { 'x-forwarded-for': '203.0.113.9, unknown, 127.0.0.3' });
  assert.equal(forwardedFor(fakeIdp, '/.well-known/b'), '127.0.0.3');
  await get(gateway.url, '/.well-known/c', {});
  assert.equal(forwardedFor(fakeIdp, '/.well-known/c'), '127.0.0.1');
});

test("discovery through the gateway and straight from the idp names the issuer's URLs, whatever the Host", async () => {
  let idp: TestIdp | undefined;
  let real: TestGateway | undefined;
  try {
    idp = await startTokenIdp({ env: { IDP_ISSUER: ISSUER } });
    real = await startTestGateway(
      'routes:\n  - { name: oidc, paths: [/.well-known/*, /jwks, /token, /auth/*], default: idp }\n  - { name: site, paths: ["/*"] }\n',
      {
        LEGACY_UPSTREAM_URL: legacy.url,
        IDP_UPSTREAM_URL: idp.url,
        IDP_ISSUER: ISSUER,
      },
    );
    for (const [label, base] of [
      ['through the gateway', real.url],
      ['straight from the idp', idp.url],
    ] as const) {
      for (const headers of [HOSTILE, { host: 'evil.example' }]) {
        const res = await get(base, '/.well-known/openid-configuration', headers);
        assert.equal(res.status, 200, `${label}: ${res.body}`);
        const metadata = JSON.parse(res.body) as Record<string, unknown>;
        assert.equal(metadata.issuer, ISSUER, label);
        const urls = Object.entries(metadata).filter(([key, value]) => typeof value === 'string' && (key.endsWith('_endpoint') || key === 'jwks_uri'));
        assert.ok(urls.length >= 5, `${label}: ${urls.map(([k]) => k).join(', ')}`);
        for (const [key, value] of urls) assert.ok(String(value).startsWith(`${ISSUER}/`), `${label}: ${key} is ${String(value)}`);
        assert.doesNotMatch(res.body, /evil\.example/, label);
      }
    }
  } finally {
    await real?.stop();
    await idp?.stop();
  }
});
