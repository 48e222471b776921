// node reads --insecure-http-parser (from NODE_OPTIONS, say, set in a deploy to put up with a
// broken client) for every server and client that does not say otherwise, and then accepts two
// lengths, obs-fold, bare LF and control characters: the framing a proxy must refuse
// (framing.test.ts). The gateway says insecureHTTPParser: false itself, for its listener and
// for node's client (https upstreams, shadow copies), so the flag changes nothing. A real
// gateway process started with the flag, as ops would start it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServiceProcess } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN } from '../support/gateway.ts';
import { rawExchange, startRawUpstream, testCertificate } from './raw-upstream.ts';

test('NODE_OPTIONS=--insecure-http-parser leaves the gateway as strict as without it, as a server and as a client', async (t) => {
  const certificate = testCertificate();
  if (!certificate) {
    console.warn('\n*** SKIPPED: openssl could not make a test certificate; the insecure-parser test did NOT run ***\n');
    return t.skip('openssl unavailable');
  }
  const dir = mkdtempSync(join(tmpdir(), 'gateway-lenient-'));
  const plain = await startRawUpstream((request) => `HTTP/1.1 200 OK\r\ncontent-length: ${request.target.length}\r\n\r\n${request.target}`);
  // Answers node's lenient client would take (checked below against a client left to the flag).
  const ambiguous: Record<string, string> = {
    '/tls/both-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    '/tls/obs-fold': 'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n',
    '/tls/bare-lf': 'HTTP/1.1 200 OK\nX-A: b\r\nContent-Length: 0\r\n\r\n',
  };
  const secure = await startRawUpstream((request) => ambiguous[request.target] ?? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', {
    key: certificate.key,
    cert: certificate.cert,
  });
  writeFileSync(
    join(dir, 'routes.yaml'),
    `upstreams:\n  secure: ${secure.url}\nroutes:\n  - { name: tls, paths: ['/tls/*'], legacy: secure }\n  - { name: hot, paths: ['/*'] }\n`,
  );
  const gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    NODE_OPTIONS: '--insecure-http-parser',
    GATEWAY_ROUTES_FILE: join(dir, 'routes.yaml'),
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    DATABASE_URL: `sqlite:${join(dir, 'g.sqlite')}`,
    LEGACY_UPSTREAM_URL: plain.url,
    NODE_EXTRA_CA_CERTS: certificate.certFile,
  });
  try {
    const requests: Record<string, string> = {
      'both lengths': 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'obs-fold': 'GET /a HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n',
      'bare LF': 'GET /a HTTP/1.1\r\nHost: a\nContent-Length: 0\r\n\r\n',
      'a control character': 'GET /a HTTP/1.1\r\nHost: a\r\nX-B: c\u0001d\r\n\r\n',
      'whitespace before a colon': 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
    };
    for (const [name, bytes] of Object.entries(requests)) {
      const answer = await rawExchange(gateway.url, bytes);
      assert.equal(answer.status, 400, `${name}: ${answer.head}`);
      assert.equal(answer.closed, true, `${name}: the connection is closed after the refusal`);
    }
    // (The gateway's readiness probe asks the upstream for /.)
    assert.deepEqual(
      plain.seen.filter((r) => r.target === '/a'),
      [],
      'nothing reached the upstream',
    );
    assert.equal((await rawExchange(gateway.url, 'GET /fine HTTP/1.1\r\nHost: a\r\n\r\n')).body, '/fine');

    for (const target of Object.keys(ambiguous)) {
      const answer = await rawExchange(gateway.url, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      assert.equal(answer.status, 502, `${target}: ${answer.head}`);
    }
    assert.deepEqual(
      secure.seen.map((r) => r.target),
      Object.keys(ambiguous),
      'each answer was refused, not the connection',
    );
    const fine = await rawExchange(gateway.url, 'GET /tls/fine HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.equal(fine.body, 'ok');
  } finally {
    await gateway.stop();
    await plain.close();
    await secure.close();
    certificate.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
