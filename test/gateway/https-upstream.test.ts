// An https upstream goes through node's own client (gateway/proxy/forward.ts), not the lean
// forwarder: the same contract, checked here against a TLS server with a throwaway certificate.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, startServiceProcess } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN } from '../support/gateway.ts';
import { rawExchange, startRawUpstream, testCertificate } from './raw-upstream.ts';

test('an https upstream: answers, bodies, headers, request id, and 502/504 with the request id', async (t) => {
  const certificate = testCertificate();
  if (!certificate) {
    console.warn('\n*** SKIPPED: openssl could not make a test certificate; the https upstream test did NOT run ***\n');
    return t.skip('openssl unavailable');
  }
  const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-'));
  const held: ServerResponse[] = [];
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  const tls = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    seen.push(req.headers);
    if (req.url === '/hang') return void held.push(res);
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      res.writeHead(200, { 'x-served-by': 'tls', 'set-cookie': ['a=1', 'b=2'], connection: 'keep-alive' });
      res.end(`tls ${req.method} ${req.url} ${body.length}`);
    });
  });
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  const deadPort = await freePort();
  writeFileSync(
    join(dir, 'routes.yaml'),
    `upstreams:\n  secure: https://127.0.0.1:${(tls.address() as AddressInfo).port}\n  gone: https://127.0.0.1:${deadPort}\nroutes:\n  - { name: gone, paths: [/gone], legacy: gone }\n  - { name: secure, paths: ['/*'], legacy: secure }\n`,
  );
  const gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    GATEWAY_ROUTES_FILE: join(dir, 'routes.yaml'),
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    DATABASE_URL: `sqlite:${join(dir, 'g.sqlite')}`,
    UPSTREAM_TIMEOUT_MS: '500',
    NODE_EXTRA_CA_CERTS: certificate.certFile,
  });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gateway.url}/page?i=${i}`, { headers: { 'x-request-id': `tls-${i}`, 'x-user-id': '1' } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `tls GET /page?i=${i} 0`);
      assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
      assert.equal(seen.at(-1)?.['x-request-id'], `tls-${i}`);
      assert.equal(seen.at(-1)?.['x-user-id'], undefined);
    }
    const post = await fetch(`${gateway.url}/form`, { method: 'POST', body: 'x'.repeat(100_000) });
    assert.equal(await post.text(), 'tls POST /form 100000');
    const gone = await fetch(`${gateway.url}/gone`, { headers: { 'x-request-id': 'tls-gone' } });
    assert.equal(gone.status, 502);
    assert.deepEqual(await gone.json(), { error: 'bad_gateway', request_id: 'tls-gone' });
    const slow = await fetch(`${gateway.url}/hang`, { headers: { 'x-request-id': 'tls-slow' } });
    assert.equal(slow.status, 504);
    assert.deepEqual(await slow.json(), { error: 'gateway_timeout', request_id: 'tls-slow' });
  } finally {
    for (const r of held) r.destroy();
    await gateway.stop();
    tls.closeAllConnections();
    tls.close();
    rmSync(dir, { recursive: true, force: true });
    certificate.cleanup();
  }
});

test("an https upstream's certificate is checked against the upstream's configured host, never the client's Host", async (t) => {
  const upstreamCertificate = testCertificate();
  // A certificate the gateway's machine trusts (as it trusts public CAs) for a name a client may
  // put in Host: a machine between the gateway and the upstream could hold one for its own domain.
  const otherCertificate = testCertificate('other.example');
  if (!upstreamCertificate || !otherCertificate) {
    console.warn('\n*** SKIPPED: openssl could not make a test certificate; the certificate-name test did NOT run ***\n');
    return t.skip('openssl unavailable');
  }
  const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-name-'));
  const answer = (body: string) => () => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  const real = await startRawUpstream(answer('real'), upstreamCertificate);
  const impostor = await startRawUpstream(answer('impostor'), otherCertificate);
  writeFileSync(join(dir, 'ca.pem'), Buffer.concat([upstreamCertificate.cert, otherCertificate.cert]));
  writeFileSync(
    join(dir, 'routes.yaml'),
    `upstreams:\n  real: ${real.url}\n  impostor: ${impostor.url}\nroutes:\n  - { name: impostor, paths: ['/impostor/*'], legacy: impostor }\n  - { name: real, paths: ['/*'], legacy: real }\n`,
  );
  const gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    GATEWAY_ROUTES_FILE: join(dir, 'routes.yaml'),
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    DATABASE_URL: `sqlite:${join(dir, 'g.sqlite')}`,
    NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
  });
  try {
    // The public Host of a site is not the upstream's name: the upstream is still reached.
    for (const host of ['site.example', 'other.example', '127.0.0.1']) {
      const res = await rawExchange(gateway.url, `GET /page HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(res.body, 'real', `Host: ${host}`);
    }
    // Configured as 127.0.0.1, a server showing a certificate for other.example is not it, even
    // when the client's Host names other.example.
    for (const host of ['other.example', 'site.example']) {
      const res = await rawExchange(gateway.url, `GET /impostor/x HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(res.status, 502, `Host: ${host}: ${res.head}`);
    }
    assert.deepEqual(impostor.seen, [], 'a request went to a server whose certificate does not name the upstream');
  } finally {
    await gateway.stop();
    await real.close();
    await impostor.close();
    rmSync(dir, { recursive: true, force: true });
    upstreamCertificate.cleanup();
    otherCertificate.cleanup();
  }
});
