// The lean forwarder (gateway/proxy/lean-forward.ts) against a raw TCP upstream that answers with
// hand-written bytes: framing, keep-alive, 1xx, HEAD/204/304, stale connections, broken answers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/** path -> raw response bytes (or a function of the socket) */
type Script = Record<string, string | Buffer | ((socket: Socket, requestsOnThisSocket: number) => void)>;

let upstream: Server;
let gateway: TestGateway;
let connections = 0;
const script: Script = {};
const big = Buffer.alloc(5 * 1024 * 1024, 'abcdefghij');

before(async () => {
  upstream = createServer((socket) => {
    connections++;
    let buffered = '';
    let count = 0;
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        count++;
        const path = head.split(' ')[1] ?? '/';
        const answer = script[path] ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n';
        if (typeof answer === 'function') answer(socket, count);
        else socket.write(answer);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gateway = await startTestGateway('routes:\n  - { name: all, paths: ["/*"] }\n', {
    LEGACY_UPSTREAM_URL: url,
    IDP_UPSTREAM_URL: url,
    UPSTREAM_TIMEOUT_MS: '1000',
  });
});

after(async () => {
  await gateway?.stop();
  upstream.close();
});

function get(
  path: string,
  method = 'GET',
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; aborted: boolean }> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), aborted: aborted || !res.complete }));
    });
    // The connection cut before any answer came: the client sees a failure, which is what matters.
    req.on('error', (error) =>
      error.message === 'socket hang up' ? resolve({ status: 0, headers: {}, body: Buffer.alloc(0), aborted: true }) : reject(error),
    );
    req.end(body);
  });
}

test('chunked answers are de-framed (extensions and trailers too) and the connection is reused', async () => {
  script['/chunked'] = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n';
  const before = connections;
  for (let i = 0; i < 5; i++) {
    const res = await get('/chunked');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello, world');
    assert.equal(res.headers['x-a'], '1');
  }
  assert.ok(connections - before <= 1, `${connections - before} upstream connections for 5 sequential requests`);
});

test('an answer without a length runs to the close; HEAD, 204 and 304 have no body; 1xx are not relayed', async () => {
  script['/until-close'] = (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it');
  const closed = await get('/until-close');
  assert.equal(closed.body.toString(), 'all of it');
  assert.equal(closed.aborted, false);

  script['/head'] = 'HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n';
  const head = await get('/head', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '1234');
  assert.equal(head.body.length, 0);

  script['/204'] = 'HTTP/1.1 204 No Content\r\nx-b: 2\r\n\r\n';
  script['/304'] = 'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n';
  script['/early'] =
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
  for (let i = 0; i < 2; i++) {
    assert.equal((await get('/204')).status, 204);
    const notModified = await get('/304');
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"x"');
    const early = await get('/early');
    assert.equal(early.status, 200);
    assert.equal(early.body.toString(), 'ok');
  }
});

test('several Set-Cookie stay separate; Connection: close upstream is honoured', async () => {
  script['/cookies'] = 'HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-multi: 1\r\nx-multi: 2\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
  await get('/cookies'); // retires whatever pooled connection it used
  const before = connections;
  for (let i = 0; i < 3; i++) {
    const res = await get('/cookies');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(res.headers['x-multi'], '1, 2');
  }
  assert.equal(connections - before, 3, 'a connection the upstream said it would close is not reused');
});

test('a pooled connection that died is retried once for a GET, never for a POST', async () => {
  // Answers the first request of each connection, then silently drops the connection on the next.
  script['/flaky'] = (socket, n) => {
    if (n === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    else socket.destroy();
  };
  assert.equal((await get('/flaky')).status, 200);
  const retried = await get('/flaky');
  assert.equal(retried.status, 200, 'the GET went again on a fresh connection');
  assert.equal(retried.body.toString(), 'ok');
  const post = await get('/flaky', 'POST', 'data');
  assert.equal(post.status, 502, 'a request with a body is never sent twice');
});

test('broken answers are a 502 with the request id; a cut body cuts the client too', async () => {
  script['/garbage'] = (socket) => socket.end('SMTP ready\r\n\r\n');
  script['/bad-header'] = 'HTTP/1.1 200 OK\r\nx-bad: a\u0001b\r\ncontent-length: 0\r\n\r\n';
  script['/bad-length'] = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc';
  script['/bad-chunk'] = (socket) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n');
  script['/huge-head'] = (socket) => socket.end(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`);
  for (const path of ['/garbage', '/bad-header', '/bad-length', '/huge-head']) {
    const res = await get(path);
    assert.equal(res.status, 502, path);
    assert.equal(JSON.parse(res.body.toString()).error, 'bad_gateway', path);
  }
  const badChunk = await get('/bad-chunk');
  assert.ok(badChunk.aborted, 'a broken chunked body after the head aborts the client response');
  script['/cut'] = (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly fifty bytes..................................');
  const cut = await get('/cut');
  assert.equal(cut.aborted, true, 'the client sees an incomplete response, not a short one that looks whole');
  script['/silent'] = () => undefined;
  const silent = await get('/silent');
  assert.equal(silent.status, 504);
});

test('a large answer streams through intact (backpressure), and bytes after an answer retire the connection', async () => {
  script['/big'] = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`), big]);
  const res = await get('/big');
  assert.equal(res.status, 200);
  assert.equal(createHash('sha256').update(res.body).digest('hex'), createHash('sha256').update(big).digest('hex'));

  script['/extra'] = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokGARBAGE';
  script['/after-extra'] = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nclean';
  assert.equal((await get('/extra')).body.toString(), 'ok');
  const next = await get('/after-extra');
  assert.equal(next.body.toString(), 'clean', 'the out-of-step connection was not reused');
});

test('an idle pooled connection the upstream closes leaves the pool at once, so even a POST after it succeeds', async () => {
  script['/close-soon'] = (socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    setTimeout(() => socket.end(), 30);
  };
  script['/post-ok'] = 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone';
  for (let i = 0; i < 3; i++) {
    assert.equal((await get('/close-soon')).status, 200);
    await new Promise((r) => setTimeout(r, 150));
    const post = await get('/post-ok', 'POST', 'payload');
    assert.equal(post.status, 200, 'the POST did not land on the closed connection');
    assert.equal(post.body.toString(), 'done');
  }
});

test('an answer that could be framed two ways is a 502 (or a cut response once begun), and its connection is discarded', async () => {
  const bad = new Map<string, string>([
    ['/both-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['/same-length-twice', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\nabc'],
    ['/gzip-chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['/gzip-only', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nabc'],
    ['/chunked-twice', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['/chunked-http10', 'HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['/obs-fold', 'HTTP/1.1 200 OK\r\nx-a: b\r\n content-length: 99\r\ncontent-length: 3\r\n\r\nabc'],
    ['/bare-lf', 'HTTP/1.1 200 OK\r\nx-a: b\ncontent-length: 99\r\ncontent-length: 3\r\n\r\nabc'],
    ['/bare-cr', 'HTTP/1.1 200 OK\r\nx-a: b\rcontent-length: 99\r\ncontent-length: 3\r\n\r\nabc'],
    ['/space-before-colon', 'HTTP/1.1 200 OK\r\ncontent-length : 99\r\ncontent-length: 3\r\n\r\nabc'],
    ['/negative-length', 'HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\nabc'],
    ['/hex-length', 'HTTP/1.1 200 OK\r\ncontent-length: 0x3\r\n\r\nabc'],
    ['/huge-length', 'HTTP/1.1 200 OK\r\ncontent-length: 1234567890123456\r\n\r\nabc'],
  ]);
  const badBody = new Map<string, string>([
    ['/chunk-bare-cr', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\r\nabc\r\n0\r\n\r\n'],
    ['/chunk-negative', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n'],
    ['/chunk-hex-prefix', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n'],
    ['/chunk-huge', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1000000000000\r\nabc\r\n0\r\n\r\n'],
    ['/chunk-long-line', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;${'e'.repeat(5000)}\r\nabc\r\n0\r\n\r\n`],
    ['/trailers-huge', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n${'x-t: 1234567890\r\n'.repeat(2000)}\r\n`],
  ]);
  for (const [path, answer] of [...bad, ...badBody]) {
    let closed: Promise<void> | undefined;
    // The upstream keeps its end open: only the gateway discarding the connection closes it.
    script[path] = (socket) => {
      closed = new Promise((resolve) => socket.once('close', () => resolve()));
      socket.write(answer);
    };
    const res = await get(path);
    if (bad.has(path)) {
      assert.equal(res.status, 502, path);
      assert.equal(JSON.parse(res.body.toString()).error, 'bad_gateway', path);
    } else assert.equal(res.aborted, true, `${path}: the client sees a broken answer, not a whole one`);
    assert.ok(closed, path);
    await closed;
  }
});

test('an answer that breaks while queued behind a pipelined one cuts the client connection when its turn comes', async () => {
  let cutDone!: () => void;
  const secondCut = new Promise<void>((resolve) => (cutDone = resolve));
  // The first answer waits until the gateway has dealt with the second one breaking (it then closes that upstream connection).
  script['/queued-first'] = (socket) => void secondCut.then(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst'));
  script['/queued-second'] = (socket) => {
    socket.once('close', cutDone);
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
  };
  const { hostname, port } = new URL(gateway.url);
  const received = await new Promise<string>((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.write('GET /queued-first HTTP/1.1\r\nHost: a\r\n\r\nGET /queued-second HTTP/1.1\r\nHost: a\r\n\r\n');
  });
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\nfirst/, 'the first answer is whole');
  assert.ok(!/\r\n\r\npartial[\s\S]*\r\n\r\n/.test(received.slice(received.indexOf('first'))), 'nothing follows the partial second answer');
});
