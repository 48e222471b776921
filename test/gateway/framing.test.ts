// Strict request framing at the gateway (headers.ts, dispatch.ts, lib/http-server.ts): a request
// whose framing or routing could be read two ways is refused with 400 and its connection closed,
// on the hot path and on the ordinary path alike, and nothing of it reaches an upstream. Some of
// these node's own parser refuses before the gateway sees them: those are kept here so that an
// upgrade of node (or a lenient parser option) that let them through would be noticed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { header, rawExchange, startRawUpstream, type RawUpstream } from './raw-upstream.ts';

let upstream: RawUpstream;
let shadowSink: RawUpstream;
let gateway: TestGateway;

// /hot/*: a legacy route to a plain-HTTP upstream (the hot path); /ord/*: shadow mode, which
// always takes the ordinary path (upstreamRequestHeaders and forward).
const ROUTES = `
routes:
  - { name: ord, paths: ['/ord/*'], default: shadow }
  - { name: hot, paths: ['/*'] }
`;

before(async () => {
  upstream = await startRawUpstream((request) => {
    // An upstream that takes any upgrade (an h2c-capable server, or a careless one).
    if (header(request, 'upgrade').length) return 'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n';
    if (request.target.endsWith('/listed-length')) return 'HTTP/1.1 200 OK\r\nconnection: keep-alive, content-length\r\ncontent-length: 5\r\n\r\nhello';
    return `HTTP/1.1 200 OK\r\ncontent-length: ${request.target.length}\r\n\r\n${request.target}`;
  });
  shadowSink = await startRawUpstream(() => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  gateway = await startTestGateway(ROUTES, { LEGACY_UPSTREAM_URL: upstream.url, IDP_UPSTREAM_URL: shadowSink.url, UPSTREAM_TIMEOUT_MS: '10000' });
});

after(async () => {
  await gateway?.stop();
  await upstream?.close();
  await shadowSink?.close();
});

const PATHS = ['/hot', '/ord'];

async function assertRefused(name: string, bytes: string, status = 400): Promise<void> {
  const before = upstream.seen.length;
  const answer = await rawExchange(gateway.url, bytes);
  assert.equal(answer.status, status, `${name}: ${answer.head}`);
  assert.equal(answer.closed, true, `${name}: the connection is closed after the refusal`);
  assert.deepEqual(upstream.seen.slice(before), [], `${name}: nothing reached the upstream`);
}

test("node's parser refuses these before the gateway sees them (and must keep doing so)", async () => {
  for (const path of PATHS) {
    const cases: Record<string, string> = {
      'both lengths': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      'differing lengths': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
      'a repeated length': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
      'a length list': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello`,
      'a signed length': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello`,
      'a hex length': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello`,
      'chunked not last': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`,
      'identity coding': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\nhello`,
      'chunked twice': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      'obs-fold': `GET ${path}/a HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n`,
      'obs-fold in transfer-encoding': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n0\r\n\r\n`,
      'bare LF': `GET ${path}/a HTTP/1.1\r\nHost: a\nContent-Length: 0\r\n\r\n`,
      'bare CR': `GET ${path}/a HTTP/1.1\r\nHost: a\r\nX-B: c\rd\r\n\r\n`,
      'whitespace before a colon': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
      'a control character': `GET ${path}/a HTTP/1.1\r\nHost: a\r\nX-B: c\u0001d\r\n\r\n`,
      'a chunk line ending in LF': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`,
    };
    for (const [name, bytes] of Object.entries(cases)) await assertRefused(`${path}: ${name}`, bytes);
  }
});

test('the gateway refuses the rest itself: two Hosts, a coding other than chunked, chunked on HTTP/1.0', async () => {
  for (const path of PATHS) {
    const cases: Record<string, string> = {
      'two Hosts': `GET ${path}/a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`,
      'two equal Hosts': `GET ${path}/a HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n`,
      'gzip, chunked': `POST ${path}/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      'chunked on HTTP/1.0': `POST ${path}/a HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    };
    for (const [name, bytes] of Object.entries(cases)) await assertRefused(`${path}: ${name}`, bytes);
    // The coding's name is case-insensitive: this one is plain chunked, and goes through.
    const ok = await rawExchange(
      gateway.url,
      `POST ${path}/case HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    );
    assert.equal(ok.status, 200);
    assert.equal(upstream.seen.at(-1)?.body.toString(), 'hello');
  }
});

test('Connection never removes Content-Length, Transfer-Encoding or Host: a body stays a body, never a second request', async () => {
  for (const path of PATHS) {
    const inner = `GET ${path}/smuggled HTTP/1.1\r\nHost: a\r\n\r\n`;
    const variants = [
      `POST ${path}/outer HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Content-Length\r\nContent-Type: text/plain\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`,
      `POST ${path}/outer HTTP/1.1\r\nHost: a\r\nConnection: Transfer-Encoding\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`,
      `POST ${path}/outer HTTP/1.1\r\nHost: a\r\nConnection: host, content-length\r\nContent-Type: text/plain\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`,
    ];
    for (const bytes of variants) {
      const before = upstream.seen.length;
      const answer = await rawExchange(gateway.url, bytes);
      assert.equal(answer.status, 200, answer.head);
      assert.equal(answer.body, `${path}/outer`);
      const seen = upstream.seen.slice(before);
      assert.deepEqual(
        seen.map((r) => r.target),
        [`${path}/outer`],
        'the upstream read one request',
      );
      assert.equal(seen[0]!.body.toString('latin1'), inner, 'the body arrived as a body');
      assert.deepEqual(header(seen[0]!, 'host'), ['a']);
    }
  }
  assert.deepEqual(upstream.garbage, []);
});

test('an upstream Connection header cannot remove the Content-Length of its answer either', async () => {
  const answer = await rawExchange(gateway.url, 'GET /hot/listed-length HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(answer.status, 200);
  assert.match(answer.head, /\r\ncontent-length: 5(\r\n|$)/i);
  assert.equal(answer.body, 'hello');
});

test('TRACE and CONNECT are refused with 405, never proxied', async () => {
  for (const path of PATHS) await assertRefused(`${path}: TRACE`, `TRACE ${path}/a HTTP/1.1\r\nHost: a\r\n\r\n`, 405);
  await assertRefused('CONNECT', 'CONNECT upstream.example:443 HTTP/1.1\r\nHost: upstream.example:443\r\n\r\n', 405);
});

test('requests pipelined behind a refused one are not forwarded either', async () => {
  for (const path of PATHS) {
    const before = upstream.seen.length;
    const answer = await rawExchange(
      gateway.url,
      `GET ${path}/first HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET ${path}/follower-1 HTTP/1.1\r\nHost: a\r\n\r\nTRACE ${path}/x HTTP/1.1\r\nHost: a\r\n\r\nGET ${path}/follower-2 HTTP/1.1\r\nHost: a\r\n\r\n`,
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.closed, true);
    // Anything the followers sent upstream was sent before the refused connection closed, so before this one.
    const sentinel = await rawExchange(gateway.url, `GET ${path}/sentinel HTTP/1.1\r\nHost: a\r\n\r\n`);
    assert.equal(sentinel.status, 200);
    assert.deepEqual(
      upstream.seen.slice(before).map((r) => r.target),
      [`${path}/sentinel`],
    );
  }
});

test('an upgrade request is held to the same rules', async () => {
  await assertRefused('upgrade with two Hosts', 'GET /hot/ws HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
});

test('only a WebSocket upgrade is tunnelled: h2c or any other is an ordinary request, so nothing behind it skips the door', async () => {
  for (const path of PATHS) {
    const before = upstream.seen.length;
    for (const [name, upgrade] of [
      ['h2c', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'],
      ['TLS', 'Connection: Upgrade\r\nUpgrade: TLS/1.2'],
      ['websocket on a POST', 'Connection: Upgrade\r\nUpgrade: websocket'],
    ]) {
      const method = name === 'websocket on a POST' ? 'POST' : 'GET';
      const answer = await rawExchange(
        gateway.url,
        `${method} ${path}/up HTTP/1.1\r\nHost: a\r\n${upgrade}\r\nContent-Length: 0\r\n\r\nGET ${path}/smuggled HTTP/1.1\r\nHost: a\r\nX-Remote-User: alice\r\n\r\n`,
      );
      assert.equal(answer.status, 200, `${path}, ${name}: ${answer.head}`);
      assert.equal(answer.body, `${path}/up`, `${path}, ${name}`);
    }
    const seen = upstream.seen.slice(before);
    assert.ok(seen.length >= 3);
    for (const request of seen) {
      assert.deepEqual(header(request, 'upgrade'), [], `${request.target} went upstream as an upgrade`);
      assert.deepEqual(header(request, 'x-remote-user'), [], `${request.target} reached the upstream with a client's identity header`);
    }
  }
});
