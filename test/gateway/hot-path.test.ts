// The proxy's hot path (dispatch.ts hotPath, lean-forward.ts, headers.ts upstreamRequestHead)
// skips lib/service's per-request bookkeeping and node's header object for speed; these tests
// pin down that it still does everything that bookkeeping did, and applies the header rules to
// the raw headers exactly.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startServiceProcess } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN, INTERNAL_SECRET, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { sample } from '../support/prometheus-text.ts';

let upstream: Server;
let upstreamUrl: string;
const seen: Array<{ url: string; rawHeaders: string[] }> = [];
let gateway: TestGateway;

before(async () => {
  upstream = createServer((req, res) => {
    seen.push({ url: req.url ?? '', rawHeaders: req.rawHeaders });
    req.resume();
    req.on('end', () => res.end(`ok ${req.url}`));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gateway = await startTestGateway(
    `
routes:
  - name: site
    paths: ["/*"]
    default: legacy
`,
    { LEGACY_UPSTREAM_URL: upstreamUrl, IDP_UPSTREAM_URL: upstreamUrl },
  );
});

after(async () => {
  await gateway?.stop();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

/** One request with exactly these raw header lines (node's client would merge or refuse some). */
function rawRequest(
  path: string,
  headers: Array<[string, string]>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(gateway.url);
    const req = request({ host: '127.0.0.1', port, path, headers: headers.flat(), setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function lastSeen(path: string): Map<string, string[]> {
  const entry = seen.findLast((s) => s.url === path);
  assert.ok(entry, `the upstream saw ${path}`);
  const byName = new Map<string, string[]>();
  for (let i = 0; i < entry.rawHeaders.length; i += 2) {
    const name = entry.rawHeaders[i]!;
    byName.set(name, [...(byName.get(name) ?? []), entry.rawHeaders[i + 1]!]);
  }
  return byName;
}

test('every proxied request is counted exactly, in the HTTP metrics and the proxy metrics', async () => {
  const n = 37;
  for (let i = 0; i < n; i++) assert.equal((await fetch(`${gateway.url}/count/${i}`)).status, 200);
  const text = await gateway.metrics();
  assert.equal(sample(text, 'http_requests_total', { route: 'site', method: 'GET', status: '200' }), n);
  assert.equal(sample(text, 'http_request_duration_seconds_count', { route: 'site', method: 'GET', status: '200' }), n);
  assert.equal(sample(text, 'gateway_proxy_requests_total', { route: 'site', side: 'legacy', status: '200' }), n);
  assert.equal(sample(text, 'gateway_upstream_response_seconds_count', { route: 'site', side: 'legacy' }), n);
});

test('the answer carries the request id: the client one when well formed, a new one otherwise', async () => {
  const kept = await fetch(`${gateway.url}/id/1`, { headers: { 'x-request-id': 'trace-hot-1' } });
  assert.equal(kept.headers.get('x-request-id'), 'trace-hot-1');
  assert.deepEqual(lastSeen('/id/1').get('x-request-id'), ['trace-hot-1']);
  const made = await fetch(`${gateway.url}/id/2`, { headers: { 'x-request-id': 'bad id with spaces' } });
  const id = made.headers.get('x-request-id') ?? '';
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(lastSeen('/id/2').get('x-request-id'), [id], 'the upstream got the same new id');
});

test('raw header rules: names listed in Connection dropped (never Content-Length or Host), identity headers dropped, forwarding ones rewritten, case kept', async () => {
  const res = await rawRequest('/raw', [
    ['Host', 'first.example'],
    ['Connection', 'keep-alive, X-Hop-Secret, Host, Content-Length'],
    ['Content-Length', '0'],
    ['X-Hop-Secret', 'must not pass'],
    ['X-Identity-Subject', 'admin'],
    ['X-Forwarded-For', '6.6.6.6'],
    ['X-Request-Id', 'raw-1'],
    ['X-Request-Id', 'raw-2'],
    ['X-Custom-Case', 'kept'],
    ['Cookie', 'a=1'],
    ['Cookie', 'b=2'],
  ]);
  assert.equal(res.status, 200);
  const got = lastSeen('/raw');
  assert.deepEqual(got.get('Host'), ['first.example']);
  assert.deepEqual(got.get('Content-Length'), ['0']);
  assert.equal(got.has('X-Hop-Secret'), false);
  assert.equal(got.has('Connection'), false);
  assert.equal(got.has('X-Identity-Subject'), false);
  assert.deepEqual(got.get('x-forwarded-for'), ['6.6.6.6, 127.0.0.1'], 'a trusted (loopback) peer: the chain is kept and appended to, once');
  assert.equal(got.has('X-Forwarded-For'), false, 'the client line itself is not passed on');
  assert.deepEqual(got.get('x-forwarded-host'), ['first.example']);
  assert.deepEqual(got.get('x-request-id'), ['raw-1']);
  assert.deepEqual(got.get('X-Custom-Case'), ['kept']);
  assert.deepEqual(got.get('Cookie'), ['a=1', 'b=2'], 'end-to-end headers pass as sent');
});

test('the access log has one line per proxied request, with its id, and never the credentials it carried', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-hot-log-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, 'routes:\n  - name: site\n    paths: ["/*"]\n    default: legacy\n');
  const service = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    GATEWAY_ROUTES_FILE: routes,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    IDP_INTERNAL_SECRET: INTERNAL_SECRET,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
    LEGACY_UPSTREAM_URL: upstreamUrl,
    IDP_UPSTREAM_URL: upstreamUrl,
    REDIS_URL: '',
  });
  try {
    const res = await fetch(`${service.url}/logged?x=1`, {
      headers: { 'x-request-id': 'log-me-1', cookie: 'session=s3cr3t-cookie', authorization: 'Bearer s3cr3t-token' },
    });
    assert.equal(res.status, 200);
    await res.text();
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      line = service
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'request' && l.reqId === 'log-me-1');
      if (!line) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(line, `an access log line for the request:\n${service.output()}`);
    assert.equal(line.route, 'site');
    assert.equal(line.status, 200);
    assert.equal(line.method, 'GET');
    assert.equal(typeof line.ms, 'number');
    assert.doesNotMatch(service.output(), /s3cr3t/);
  } finally {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
