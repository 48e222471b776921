// GATEWAY_ALLOWED_HOSTS: upstreams get the client's Host, and a monolith that builds links from
// it (a password-reset mail) would build them for any host a client names. With the list set, a
// request for another host is refused with 421 on every path (hot, ordinary, upgrade, the
// gateway's own pages) and reaches no upstream; /healthz answers whatever the Host.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compileHostCheck } from '../../gateway/proxy/allowed-hosts.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { ConfigError } from '../../lib/config.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';
import { rawExchange } from './raw-upstream.ts';

let legacy: TaggedUpstream;
let gateway: TestGateway;

before(async () => {
  legacy = await startUpstream('legacy');
  gateway = await startTestGateway(
    `
routes:
  - { name: ord, paths: ['/ord/*'], default: shadow }
  - { name: hot, paths: ['/*'] }
`,
    { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: legacy.url, GATEWAY_ALLOWED_HOSTS: 'site.example, alt.example:8443,[::1]' },
  );
});

after(async () => {
  await gateway?.stop();
  await legacy?.close();
});

test('the host check: names case-insensitively, a port only where the entry names one, IPv6 literals', () => {
  const allowed = compileHostCheck(['site.example', 'alt.example:8443', '[::1]']);
  for (const host of ['site.example', 'SITE.example:3000', 'alt.example:8443', '[::1]', '[::1]:3000']) assert.equal(allowed(host), true, host);
  for (const host of ['evil.example', 'alt.example', 'alt.example:80', 'site.example.evil', '[::2]', '', undefined])
    assert.equal(allowed(host), false, String(host));
  assert.equal(compileHostCheck([])('anything.example'), true, 'empty: every host');
  assert.throws(() => loadGatewayConfig({ GATEWAY_ALLOWED_HOSTS: 'site.example/x' }), ConfigError);
});

test('a request for a host not served is refused with 421 on the hot path, the ordinary path, an upgrade and the gateway’s own paths', async () => {
  const before = legacy.seen.length;
  for (const [path, extra] of [
    ['/page', ''],
    ['/ord/page', ''],
    ['/ws', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'],
    ['/admin/api/routes', ''],
    ['/auth/login', ''],
  ]) {
    for (const host of ['evil.example', 'alt.example']) {
      const answer = await rawExchange(gateway.url, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`);
      assert.equal(answer.status, 421, `${path}, Host: ${host}: ${answer.head}`);
    }
  }
  // (The gateway's background probe of the monolith asks for /: not one of these.)
  assert.deepEqual(
    legacy.seen.slice(before).filter((r) => r.url !== '/'),
    [],
    'a request for a host not served reached the upstream',
  );
  assert.equal((await rawExchange(gateway.url, 'GET /healthz HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n')).status, 200, 'health checks name any host');
});

test('the hosts served are served', async () => {
  for (const [path, host] of [
    ['/page', 'site.example'],
    ['/page', 'Site.Example:3000'],
    ['/ord/page', 'alt.example:8443'],
    ['/page', '[::1]:3000'],
  ]) {
    const answer = await rawExchange(gateway.url, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.equal(answer.status, 200, `${path}, Host: ${host}: ${answer.head}`);
    assert.equal(legacy.seen.at(-1)?.headers.host, host);
  }
});
