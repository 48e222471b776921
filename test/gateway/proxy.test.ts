import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort } from '../../scripts/support/processes.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';
import { sample } from '../support/prometheus-text.ts';

let legacy: TaggedUpstream;
let next: TaggedUpstream;
let gateway: TestGateway;
let deadPort: number;
const hung = new Set<import('node:http').ServerResponse>();

before(async () => {
  deadPort = await freePort();
  legacy = await startUpstream('legacy', (req, res, body) => {
    if (req.url === '/hang') {
      hung.add(res); // never answers: the gateway's timeout must
      return;
    }
    if (req.url === '/hop') {
      res.writeHead(200, {
        connection: 'x-upstream-hop, keep-alive',
        'x-upstream-hop': 'secret',
        'keep-alive': 'timeout=5',
        'proxy-authenticate': 'Basic',
        'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
        'x-end-to-end': 'kept',
      });
      return void res.end('hop');
    }
    res.setHeader('x-served-by', 'legacy');
    res.end(req.method === 'POST' ? `legacy got ${body.length} bytes` : `legacy ${req.url}`);
  });
  next = await startUpstream('new');
  gateway = await startTestGateway(
    `
upstreams:
  dead: http://127.0.0.1:${deadPort}
routes:
  - { name: broken, paths: [/broken/*], legacy: dead, new: dead }
  - { name: api, paths: [/api/*], default: legacy }
  - { name: ws, paths: [/ws] }
  - { name: site, paths: [/, /hang, /hop, /page, /upload] }
`,
    { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: next.url, UPSTREAM_TIMEOUT_MS: '500' },
  );
});

after(async () => {
  for (const res of hung) res.destroy();
  await gateway?.stop();
  await Promise.all([legacy?.close(), next?.close()]);
});

function raw(
  path: string,
  headers: Record<string, string | string[]>,
  method = 'GET',
  body?: string,
  base = gateway.url,
): Promise<{ status: number; headers: IncomingHttpHeaders; rawHeaders: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    // Options, not a URL string: a URL would resolve "/a/../b" before it leaves.
    const req = request({ hostname, port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('each mode sends the route to the side it names, switched at run time without a restart', async () => {
  const side = async () => (await fetch(`${gateway.url}/api/x`)).headers.get('x-served-by');
  assert.equal(await side(), 'legacy');
  await gateway.flip('api', { mode: 'idp' });
  assert.equal(await side(), 'new');
  await gateway.flip('api', { mode: 'canary', percent: 100 });
  assert.equal(await side(), 'new');
  await gateway.flip('api', { mode: 'canary', percent: 0 });
  assert.equal(await side(), 'legacy');

  await gateway.flip('api', { mode: 'shadow' });
  const before = next.seen.length;
  const shadowed = await fetch(`${gateway.url}/api/shadowed?q=1`, { headers: { 'x-request-id': 'shadow-me-1' } });
  assert.equal(shadowed.headers.get('x-served-by'), 'legacy', 'shadow: legacy answers');
  assert.equal(await shadowed.text(), 'legacy /api/shadowed?q=1');
  const deadline = Date.now() + 5_000;
  while (next.seen.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const copy = next.seen.at(-1);
  assert.equal(copy?.url, '/api/shadowed?q=1', 'the new side got a copy');
  assert.equal(copy?.headers['x-gateway-shadow'], '1');
  assert.equal(copy?.headers['x-request-id'], 'shadow-me-1');

  await gateway.flip('api', { mode: 'legacy' });
  assert.equal(await side(), 'legacy');
  const metrics = await gateway.metrics();
  assert.equal(sample(metrics, 'gateway_route_mode', { route: 'api', mode: 'legacy' }), 1);
  assert.equal(sample(metrics, 'gateway_route_mode', { route: 'api', mode: 'idp' }), 0);
  assert.ok(sample(metrics, 'gateway_flips_total', { route: 'api', mode: 'idp', via: 'api' }) >= 1);
  assert.ok(sample(metrics, 'gateway_proxy_requests_total', { route: 'api', side: 'new', status: '200' }) >= 2);
  assert.ok(sample(metrics, 'gateway_upstream_response_seconds_count', { route: 'api', side: 'legacy' }) >= 3);
});

test('X-Forwarded-*, the request id and the client Host go upstream; client-sent identity and forwarding headers do not', async () => {
  const res = await raw('/page', {
    host: 'public.example',
    'x-request-id': 'trace-42',
    'x-user-id': '1',
    'x-identity-subject': 'admin',
    'x-remote-user': 'root',
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-host': 'evil.example',
    'x-gateway-shadow': '1',
    'x-custom': 'kept',
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-request-id'], 'trace-42');
  const seen = legacy.seen.at(-1)!.headers;
  assert.equal(seen['x-request-id'], 'trace-42');
  assert.equal(seen.host, 'public.example');
  // The test client is on loopback, which TRUST_PROXY trusts by default: its X-Forwarded-* are kept and appended to.
  assert.equal(seen['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
  assert.equal(seen['x-forwarded-host'], 'evil.example');
  assert.equal(seen['x-forwarded-proto'], 'http');
  for (const stripped of ['x-user-id', 'x-identity-subject', 'x-remote-user', 'x-gateway-shadow']) assert.equal(seen[stripped], undefined, stripped);
  assert.equal(seen['x-custom'], 'kept');
});

test('the underscore spelling of an identity, forwarding or gateway header is that header (CGI reads both alike) and is stripped too', async () => {
  // X_Remote_User reaches PHP as HTTP_X_REMOTE_USER, the variable X-Remote-User becomes.
  const forged = {
    X_Remote_User: 'root',
    x_identity_subject: 'admin',
    X_User_Id: '1',
    X_Forwarded_For: '6.6.6.6',
    x_forwarded_host: 'evil.example',
    X_Gateway_Shadow: '1',
    X_Request_Id: 'forged',
    x_custom_header: 'kept',
  };
  // The hot path (a legacy route), then the ordinary path (shadow mode).
  for (const [path, flip] of [
    ['/page', undefined],
    ['/api/underscores', 'shadow'],
  ] as const) {
    if (flip) await gateway.flip('api', { mode: flip });
    try {
      const res = await raw(path, forged);
      assert.equal(res.status, 200, path);
      const seen = legacy.seen.at(-1)!.headers;
      for (const name of Object.keys(forged).filter((n) => n !== 'x_custom_header')) assert.equal(seen[name.toLowerCase()], undefined, `${path}: ${name}`);
      assert.equal(seen['x-forwarded-for'], '127.0.0.1', path);
      assert.equal(seen.x_custom_header, 'kept', path);
    } finally {
      if (flip) await gateway.flip('api', { mode: 'legacy' });
    }
  }
});

test('an untrusted peer cannot forge X-Forwarded-*', async () => {
  const strict = await startTestGateway('routes:\n  - { name: all, paths: ["/*"] }\n', {
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: next.url,
    TRUST_PROXY: 'false',
  });
  try {
    const res = await raw(
      '/page',
      { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: 'public.example' },
      'GET',
      undefined,
      strict.url,
    );
    assert.equal(res.status, 200);
    const seen = legacy.seen.at(-1)!.headers;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'public.example');
  } finally {
    await strict.stop();
  }
});

test('hop-by-hop headers are removed both ways; end-to-end ones (several Set-Cookie) are kept', async () => {
  const res = await raw('/hop', {
    connection: 'x-client-hop, keep-alive',
    'x-client-hop': 'secret',
    te: 'trailers',
    'proxy-authorization': 'Basic eA==',
    'keep-alive': '300',
  });
  assert.equal(res.status, 200);
  const seen = legacy.seen.at(-1)!.headers;
  for (const name of ['x-client-hop', 'te', 'proxy-authorization', 'keep-alive']) assert.equal(seen[name], undefined, `${name} reached the upstream`);
  assert.equal(res.headers['x-upstream-hop'], undefined);
  assert.equal(res.headers['proxy-authenticate'], undefined);
  assert.notEqual(res.headers['keep-alive'], 'timeout=5');
  assert.equal(res.headers['x-end-to-end'], 'kept');
  assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
});

test('request bodies stream through, with a length or chunked', async () => {
  const big = 'x'.repeat(1_000_000);
  const sized = await raw('/upload', { 'content-type': 'text/plain', 'content-length': String(big.length) }, 'POST', big);
  assert.equal(sized.body, 'legacy got 1000000 bytes');
  const chunked = await new Promise<string>((resolve, reject) => {
    const req = request(`${gateway.url}/upload`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.write('a'.repeat(1000));
    setTimeout(() => req.end('b'.repeat(1000)), 50);
  });
  assert.equal(chunked, 'legacy got 2000 bytes');
});

test('a dead upstream is a 502 and a silent one a 504, each with the request id and nothing internal', async () => {
  const dead = await fetch(`${gateway.url}/broken/x`, { headers: { 'x-request-id': 'dead-1' } });
  assert.equal(dead.status, 502);
  const deadText = await dead.text();
  assert.deepEqual(JSON.parse(deadText), { error: 'bad_gateway', request_id: 'dead-1' });
  assert.doesNotMatch(deadText, /ECONN|127\.0\.0\.1|\d{4,5}/);

  const slow = await fetch(`${gateway.url}/hang`, { headers: { 'x-request-id': 'slow-1' } });
  assert.equal(slow.status, 504);
  assert.deepEqual(await slow.json(), { error: 'gateway_timeout', request_id: 'slow-1' });
  assert.equal(slow.headers.get('x-request-id'), 'slow-1');

  const metrics = await gateway.metrics();
  assert.ok(sample(metrics, 'gateway_proxy_requests_total', { route: 'broken', side: 'legacy', status: '502' }) >= 1);
  assert.ok(sample(metrics, 'gateway_proxy_requests_total', { route: 'site', side: 'legacy', status: '504' }) >= 1);
});

test('a path no route matches is a 404, a path with dot segments a 400', async () => {
  const none = await fetch(`${gateway.url}/nowhere`);
  assert.equal(none.status, 404);
  assert.equal(((await none.json()) as { error: string }).error, 'no_route');
  const dots = await raw('/api/../hop', {});
  assert.equal(dots.status, 400);
  assert.equal(JSON.parse(dots.body).error, 'bad_path');
});

test('WebSocket upgrades pass through to the side the route is on, both directions', async () => {
  const upgradeServer = (tag: string) => {
    const server = createServer((_req, res) => res.end('not an upgrade'));
    server.on('upgrade', (req, socket: Socket) => {
      if (req.headers.upgrade !== 'websocket') return socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-side: ${tag}\r\nx-seen-request-id: ${req.headers['x-request-id']}\r\n\r\n`,
      );
      socket.on('data', (d: Buffer) => socket.write(`${tag}:${d.toString()}`));
    });
    return server;
  };
  const legacyWs = upgradeServer('legacy');
  const newWs = upgradeServer('new');
  await Promise.all([legacyWs, newWs].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const wsGateway = await startTestGateway('routes:\n  - { name: ws, paths: [/ws] }\n', {
    LEGACY_UPSTREAM_URL: `http://127.0.0.1:${(legacyWs.address() as AddressInfo).port}`,
    IDP_UPSTREAM_URL: `http://127.0.0.1:${(newWs.address() as AddressInfo).port}`,
  });
  const talk = () =>
    new Promise<{ side: string; reqId: string; echo: string }>((resolve, reject) => {
      const req = request(`${wsGateway.url}/ws`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'x-request-id': 'ws-1',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('upgrade', (res, socket) => {
        socket.once('data', (d: Buffer) => {
          resolve({ side: String(res.headers['x-side']), reqId: String(res.headers['x-seen-request-id']), echo: d.toString() });
          socket.destroy();
        });
        socket.write('ping');
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
  try {
    assert.deepEqual(await talk(), { side: 'legacy', reqId: 'ws-1', echo: 'legacy:ping' });
    await wsGateway.flip('ws', { mode: 'idp' });
    assert.deepEqual(await talk(), { side: 'new', reqId: 'ws-1', echo: 'new:ping' });
  } finally {
    await wsGateway.stop();
    for (const s of [legacyWs, newWs]) {
      s.closeAllConnections();
      s.close();
    }
  }
});
