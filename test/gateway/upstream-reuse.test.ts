// When an upstream connection may serve another request (pool.ts reusableAfter, lean-forward.ts,
// forward.ts): never after an error answer to a request with a body, nor after an answer that
// began before the body was through. The upstream here is a naive one that answers from the
// head alone and leaves the body unread, as many do for a 400: a reused connection would then
// have the body parsed as the next request, and the next client would get its answer.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServiceProcess } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN, startTestGateway } from '../support/gateway.ts';
import { header, startRawUpstream, testCertificate } from './raw-upstream.ts';

const BODY_PIECE = 'x'.repeat(16 * 1024);
const PIECES = 19; // ~300 KB

interface Naive {
  url: string;
  readonly connections: number;
  close(): void;
}

/**
 * Reads only what it needs, one request per socket read: `/reject` is answered 400 once its whole
 * (chunked) body is in, the body left unread; `/early` gets its head and half its body at once,
 * the rest when the request body is complete; `/too-large` is refused at once and the socket no
 * longer read; anything else is answered with its own path.
 */
async function startNaiveUpstream(tls?: { key: Buffer; cert: Buffer }): Promise<Naive> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buffered = '';
    let waiting: string | undefined; // a request whose answer waits for the end of its body
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      if (waiting) {
        if (!buffered.endsWith('\r\n0\r\n\r\n')) return;
        socket.write(waiting === '/reject' ? 'HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad' : 'ne');
        if (waiting === '/early') buffered = '';
        waiting = undefined;
        return;
      }
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.slice(0, end);
      buffered = buffered.slice(end + 4); // the head only: a body is not read as one
      const target = /^[A-Z]+ (\/\S*) HTTP\/1\.1\r\n/.exec(head)?.[1];
      if (target === '/too-large') {
        // Refused from the head, and nothing more is read: the body backs up into the gateway.
        socket.write('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n');
        socket.pause();
        return;
      }
      if (target === '/reject' || target === '/early') {
        waiting = target;
        if (target === '/early') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndo');
        if (buffered.endsWith('\r\n0\r\n\r\n')) socket.emit('data', Buffer.alloc(0));
        return;
      }
      const answer = target ?? 'garbage';
      socket.write(`HTTP/1.1 ${target ? 200 : 400} OK\r\ncontent-length: ${answer.length}\r\n\r\n${answer}`);
    });
  };
  const server: Server = tls ? createTlsServer(tls, onSocket) : createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

interface Answer {
  status: number;
  body: string;
}

/** A chunked POST of ~300 KB; with `waitForAnswer`, the second half only once the answer has begun. */
function chunkedPost(gatewayUrl: string, path: string, waitForAnswer: boolean): Promise<Answer> {
  const { hostname, port } = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => {
        body += c;
        if (waitForAnswer && !req.writableEnded) {
          for (let i = 0; i < PIECES - 1; i++) req.write(BODY_PIECE);
          req.end();
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(BODY_PIECE);
    if (!waitForAnswer) {
      for (let i = 0; i < PIECES - 1; i++) req.write(BODY_PIECE);
      req.end();
    }
  });
}

/**
 * On one keep-alive client connection: a body far larger than socket buffers to an upstream that
 * refuses it without reading, then a GET, which must be answered (the rest of the body drained).
 */
async function largeBodyThenGet(gatewayUrl: string): Promise<[Answer, Answer]> {
  const { hostname, port } = new URL(gatewayUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (path: string, method: string, body?: Buffer) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request({ hostname, port, path, method, agent }, (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    return await Promise.all([send('/too-large', 'POST', Buffer.alloc(32 * 1024 * 1024, 'y')), send('/after-large', 'GET')]);
  } finally {
    agent.destroy();
  }
}

async function get(gatewayUrl: string, path: string): Promise<Answer> {
  const res = await fetch(`${gatewayUrl}${path}`, { signal: AbortSignal.timeout(60_000) });
  return { status: res.status, body: await res.text() };
}

async function checkReuseRules(gatewayUrl: string, upstream: Naive): Promise<void> {
  const rejected = await chunkedPost(gatewayUrl, '/reject', false);
  assert.deepEqual(rejected, { status: 400, body: 'bad' });
  let before = upstream.connections;
  assert.deepEqual(await get(gatewayUrl, '/next'), { status: 200, body: '/next' }, 'the next request got its own answer, not one to the unread body');
  assert.equal(upstream.connections - before, 1, 'it went on a new connection');

  const early = await chunkedPost(gatewayUrl, '/early', true);
  assert.deepEqual(early, { status: 200, body: 'done' });
  before = upstream.connections;
  assert.deepEqual(await get(gatewayUrl, '/after-early'), { status: 200, body: '/after-early' });
  assert.equal(upstream.connections - before, 1, 'an answer that began before the body was through retires its connection');

  const [tooLarge, afterLarge] = await largeBodyThenGet(gatewayUrl);
  assert.equal(tooLarge.status, 413);
  assert.deepEqual(afterLarge, { status: 200, body: '/after-large' }, 'the refused body did not stall the client connection');

  // A success after the whole body keeps the connection: the rule costs nothing on the common path.
  before = upstream.connections;
  assert.deepEqual(await get(gatewayUrl, '/again'), { status: 200, body: '/again' });
  assert.equal(upstream.connections - before, 0, 'a bodyless success reuses its connection');
}

test('lean forwarder: no reuse after an error answer to a body, or an answer that came early', async () => {
  const upstream = await startNaiveUpstream();
  const gateway = await startTestGateway('routes:\n  - { name: all, paths: ["/*"] }\n', {
    LEGACY_UPSTREAM_URL: upstream.url,
    IDP_UPSTREAM_URL: upstream.url,
    UPSTREAM_TIMEOUT_MS: '30000',
  });
  try {
    await checkReuseRules(gateway.url, upstream);
  } finally {
    await gateway.stop();
    upstream.close();
  }
});

test("node's client (https upstreams): the same rule; a chunked body always goes framed; only chunked answers are relayed", async (t) => {
  const certificate = testCertificate();
  if (!certificate) {
    console.warn('\n*** SKIPPED: openssl could not make a test certificate; the https reuse test did NOT run ***\n');
    return t.skip('openssl unavailable');
  }
  const upstream = await startNaiveUpstream(certificate);
  const framed = await startRawUpstream(
    (r) =>
      r.target === '/framed/gzip'
        ? 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
        : `HTTP/1.1 200 OK\r\ncontent-length: ${r.target.length}\r\n\r\n${r.target}`,
    certificate,
  );
  const routes = join(certificate.certFile, '..', 'routes.yaml');
  writeFileSync(
    routes,
    `upstreams:\n  naive: ${upstream.url}\n  framed: ${framed.url}\nroutes:\n  - { name: framed, paths: ['/framed/*'], legacy: framed }\n  - { name: all, paths: ['/*'], legacy: naive }\n`,
  );
  const gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    GATEWAY_ROUTES_FILE: routes,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    DATABASE_URL: `sqlite:${join(certificate.certFile, '..', 'g.sqlite')}`,
    UPSTREAM_TIMEOUT_MS: '30000',
    NODE_EXTRA_CA_CERTS: certificate.certFile,
  });
  try {
    await checkReuseRules(gateway.url, upstream);

    // A GET with a chunked body: node's client frames no GET body by itself, so the gateway must say chunked.
    const inner = 'GET /framed/smuggled HTTP/1.1\r\nHost: a\r\n\r\n';
    const { hostname, port } = new URL(gateway.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ hostname, port, path: '/framed/outer', method: 'GET', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(inner);
    });
    assert.equal(status, 200);
    assert.deepEqual(
      framed.seen.map((r) => [r.target, r.framing, r.body.toString('latin1')]),
      [['/framed/outer', 'chunked', inner]],
    );
    assert.deepEqual(header(framed.seen[0]!, 'transfer-encoding'), ['chunked']);

    // As on the lean path (response-parser.ts): a transfer coding the gateway would strip undecoded is a 502.
    const coded = await fetch(`${gateway.url}/framed/gzip`);
    assert.equal(coded.status, 502);
    assert.equal(((await coded.json()) as { error: string }).error, 'bad_gateway');
  } finally {
    await gateway.stop();
    upstream.close();
    await framed.close();
    certificate.cleanup();
  }
});
