// Every HTML page any service serves carries the same security headers, written by one module
// (lib/page-headers.ts): no script, no framing, never cached, no Referer to other sites. Each
// service's pages are fetched from a real server here. The legacy-adapter serves no HTML at all.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { sendPage } from '../../gateway/signin/http.ts';
import { createMemoryThrottle, DEFAULT_THROTTLE_POLICY } from '../../idp/throttle/index.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';
import { startPageHarness, type PageHarness } from '../support/idp.ts';

function assertPageHeaders(res: Response, what: string, options: { ownAssets: boolean }) {
  const headers = Object.fromEntries(res.headers);
  assert.equal(headers['content-type'], 'text/html; charset=utf-8', what);
  assert.equal(headers['cache-control'], 'no-store', what);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['x-frame-options'], 'DENY', what);
  assert.equal(headers['referrer-policy'], 'no-referrer', what);
  assert.equal(headers['cross-origin-opener-policy'], 'same-origin', what);
  const csp = (headers['content-security-policy'] ?? '').split('; ');
  for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"])
    assert.ok(csp.includes(directive), `${what}: ${directive} in ${csp.join('; ')}`);
  assert.equal(csp.includes("style-src 'self'"), options.ownAssets, `${what}: style-src only for a page with its own stylesheet`);
  assert.ok(
    csp.every((d) => !/script-src|unsafe-/.test(d)),
    `${what}: no script source at all`,
  );
}

let idp: PageHarness;
let gateway: TestGateway;
let upstream: TaggedUpstream;
before(async () => {
  idp = await startPageHarness({ throttle: createMemoryThrottle(DEFAULT_THROTTLE_POLICY) });
  upstream = await startUpstream('legacy');
  gateway = await startTestGateway('routes:\n  - { name: site, paths: ["/*"] }\n', { LEGACY_UPSTREAM_URL: upstream.url, IDP_UPSTREAM_URL: upstream.url });
});
after(async () => {
  await gateway?.stop();
  await upstream?.close();
  await idp?.close();
});

test("the idp's pages (an interaction that does not exist, an authorization request in error)", async () => {
  for (const path of ['/interaction/no-such-interaction', '/auth?client_id=nobody']) {
    const res = await fetch(`${idp.issuer}${path}`, { redirect: 'manual' });
    assert.match(await res.text(), /<html|<!doctype/i, `${path} is a page`);
    assertPageHeaders(res, `idp ${path}`, { ownAssets: true });
  }
});

test("the gateway's admin page, its login form included", async () => {
  const res = await fetch(`${gateway.url}/admin`);
  assert.equal(res.status, 401);
  assert.match(await res.text(), /id="login-form"/);
  assertPageHeaders(res, 'gateway /admin', { ownAssets: true });
});

test("the gateway's sign-in pages (the page writer of /auth/*), with a form that ends at the idp", async () => {
  const server = createServer((_req, res) =>
    sendPage(res, 200, 'Sign out <now>', 'Sign out of "this" site?', {
      form: { action: '/auth/logout', button: 'Sign out' },
      formTargets: ['https://idp.example.test'],
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const body = await res.text();
    assertPageHeaders(res, 'gateway sign-in page', { ownAssets: false });
    assert.match(res.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/idp\.example\.test(;|$)/);
    assert.match(body, /<title>Sign out &lt;now&gt;<\/title>/);
    assert.match(body, /Sign out of &quot;this&quot; site\?/);
  } finally {
    server.close();
  }
});
