// Differential fuzzing of the gateway's forwarding, on the hot path (/h/) and the ordinary path
// (/o/, a shadow-mode route). Each case is 1-3 pipelined raw requests (valid, ambiguous,
// truncated) and, for each, a raw upstream answer (valid, ambiguous, truncated). Requests are
// judged against node's own parser (an oracle server given the same bytes): the upstream must
// read exactly the requests node read (method, target, body bytes), in order, or fewer with a
// clean 400/405 where the gateway is stricter, and never one more (smuggled) or a garbled one.
// Answers are judged against node's own client (http.request) reading the same bytes from the
// same upstream: same status, headers and body, or a clean 502 (or a cut answer when node's
// client failed too). After every case a fresh request on a keep-alive client must get its own
// answer: no pooled upstream connection was left out of step.
//
// Seeded: the seed is printed; FUZZ_SEED=<seed> replays a run, FUZZ_CASES=<n> changes its size,
// FUZZ_TRACE=1 prints every case before it runs.
import assert from 'node:assert/strict';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startRawUpstream, type RawRequest, type RawUpstream } from './raw-upstream.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CASES = Number(process.env.FUZZ_CASES ?? 3000);

/** mulberry32: small, fast, good enough to pick cases. */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: <T>(items: readonly T[]): T => items[int(items.length)]!, chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof generator>;

// ---- requests -------------------------------------------------------------------------------

interface GeneratedRequest {
  bytes: string;
  method: string;
  target: string;
  /** Refused by the gateway's own rules although node's parser takes it (400 or 405). */
  gatewayRefuses: boolean;
  /** Ends the client connection after its answer. */
  closes: boolean;
}

const TOKEN = 'abcdefghijklmnopqrstuvwxyz0123456789-_.';
function token(r: Random, max = 12): string {
  let text = '';
  for (let i = 0, n = 1 + r.int(max); i < n; i++) text += TOKEN[r.int(TOKEN.length)];
  return text;
}

function bodyText(r: Random): string {
  switch (r.int(4)) {
    case 0:
      return '';
    case 1:
      // A body that is itself a request: whoever frames it wrong forwards two.
      return `GET /h/smuggled-${token(r)} HTTP/1.1\r\nHost: evil\r\n\r\n`;
    case 2:
      return Array.from({ length: 1 + r.int(3000) }, () => String.fromCharCode(32 + r.int(95))).join('');
    default:
      return `a=${token(r)}&b=${token(r, 40)}\r\n0\r\n\r\n`;
  }
}

function chunked(r: Random, body: string, trailers: boolean): string {
  let out = '';
  for (let at = 0; at < body.length;) {
    const size = Math.min(body.length - at, 1 + r.int(700));
    out += `${size.toString(16)}${r.chance(0.1) ? ';ext=1' : ''}\r\n${body.slice(at, at + size)}\r\n`;
    at += size;
  }
  return `${out}0\r\n${trailers ? 'x-trailer: t\r\n' : ''}\r\n`;
}

/**
 * One request. Where node's server would race with itself the case is kept out of a pipeline's
 * middle: what node's parser refuses comes first (nothing behind it is parsed), `Connection:
 * close` last (node may still hand over what follows it).
 */
function generateRequest(r: Random, id: string, prefix: string, first: boolean, last: boolean): GeneratedRequest {
  const method = r.pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE']);
  const target = `${prefix}/${id}${r.chance(0.3) ? `?q=${token(r)}` : ''}`;
  let version = 'HTTP/1.1';
  const lines: string[] = ['Host: gateway.test'];
  let gatewayRefuses = method === 'TRACE';
  let closes = false;
  for (let i = 0, n = r.int(4); i < n; i++) lines.push(`X-F-${i}: ${token(r, 30)}`);
  switch (r.int(8)) {
    case 0:
      lines.push('Connection: keep-alive, Content-Length');
      break;
    case 1:
      lines.push('Connection: Transfer-Encoding, Host, X-F-0');
      break;
    case 2:
      if (!last) break;
      lines.push('Connection: close');
      closes = true;
      break;
  }
  const body = method === 'HEAD' || method === 'TRACE' ? '' : bodyText(r);
  const framing = body === '' && r.chance(0.7) ? 'none' : r.pick(['length', 'chunked']);
  // Ambiguities, each alone: node's parser refuses some, the gateway the rest.
  const NODE_REFUSES = [0, 1, 5, 6, 7, 8];
  let mutation = r.chance(0.35) ? r.int(10) : -1;
  if (!first && NODE_REFUSES.includes(mutation)) mutation = -1;
  let payload = '';
  switch (framing) {
    case 'length':
      lines.push(`Content-Length: ${body.length}`);
      payload = body;
      break;
    case 'chunked':
      lines.push('Transfer-Encoding: chunked');
      payload = chunked(r, body, r.chance(0.2));
      break;
  }
  switch (mutation) {
    case 0:
      lines.push(framing === 'length' ? 'Transfer-Encoding: chunked' : `Content-Length: ${payload.length}`);
      break;
    case 1:
      // A second, maybe differing, length; or (no framing yet) one that eats into the next request.
      if (framing !== 'none' || !last) lines.push(`Content-Length: ${payload.length + r.int(3)}`);
      break;
    case 2:
      lines.push('Host: other.test');
      gatewayRefuses = true;
      break;
    case 3:
      if (framing === 'chunked') {
        lines[lines.length - 1] = 'Transfer-Encoding: gzip, chunked';
        gatewayRefuses = true;
      }
      break;
    case 4:
      // HTTP/1.0 closes the connection after it: last, as Connection: close.
      if (framing === 'chunked' && last) {
        version = 'HTTP/1.0';
        gatewayRefuses = true;
      }
      break;
    case 5:
      lines.push('X-Fold: a', ' folded');
      break;
    case 6:
      lines.push('X-Bare: a\nContent-Length: 0');
      break;
    case 7:
      lines.push(`Transfer-Encoding : chunked`);
      break;
    case 8:
      lines.push(`Content-Length: +${payload.length}`);
      break;
    case 9:
      if (framing === 'chunked') lines[lines.length - 1] = 'Transfer-Encoding: Chunked'; // fine: case-insensitive
      break;
  }
  if (version === 'HTTP/1.0') closes = true;
  return { bytes: `${method} ${target} ${version}\r\n${lines.join('\r\n')}\r\n\r\n${payload}`, method, target, gatewayRefuses, closes };
}

// ---- upstream answers -----------------------------------------------------------------------

interface GeneratedAnswer {
  bytes: string;
  /** The upstream closes the connection after it. */
  close: boolean;
  /** A framing node's client takes but the gateway refuses (a 502 is then right). */
  gatewayRefuses: boolean;
}

/** An answer to `method` (bytes after a HEAD answer would only be junk: node's client fails on them, the gateway drops them with the connection). */
function generateAnswer(r: Random, method: string): GeneratedAnswer {
  const status = r.pick([200, 200, 201, 204, 301, 302, 304, 400, 404, 500, 503]);
  const headers: string[] = [];
  for (let i = 0, n = r.int(3); i < n; i++) headers.push(`x-f-${i}: ${token(r, 20)}`);
  if (r.chance(0.3)) headers.push(`set-cookie: s=${token(r)}`, `set-cookie: t=${token(r)}`);
  if (r.chance(0.2)) headers.push('content-type: text/plain');
  const noBody = status === 204 || status === 304;
  const body = noBody ? '' : bodyText(r);
  const informational = r.chance(0.1) ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  let version = 'HTTP/1.1';
  let close = false;
  let gatewayRefuses = false;
  let payload = body;
  const kind = r.int(noBody ? 2 : 14);
  switch (kind) {
    case 0:
      if (!noBody || r.chance(0.5)) headers.push(`content-length: ${body.length}`);
      break;
    case 1:
      // A connection-listed length is still the length.
      headers.push('connection: keep-alive, content-length', `content-length: ${body.length}`);
      break;
    case 2:
      headers.push('transfer-encoding: chunked');
      payload = chunked(r, body, r.chance(0.3));
      break;
    case 3:
      close = true; // read until the close
      break;
    case 4:
      headers.push('connection: close', `content-length: ${body.length}`);
      close = true;
      break;
    case 5:
      version = 'HTTP/1.0';
      headers.push(`content-length: ${body.length}`);
      close = true;
      break;
    case 6:
      headers.push(`content-length: ${body.length}`, 'transfer-encoding: chunked');
      payload = chunked(r, body, false);
      close = true;
      break;
    case 7:
      headers.push(`content-length: ${body.length}`, `content-length: ${body.length + r.int(2)}`);
      close = true;
      break;
    case 8:
      headers.push(r.pick(['transfer-encoding: gzip, chunked', 'transfer-encoding: gzip']));
      payload = headers.at(-1)!.endsWith('chunked') ? chunked(r, body, false) : body;
      close = true;
      gatewayRefuses = true;
      break;
    case 9:
      headers.push('x-fold: a', ` content-length: ${body.length}`);
      close = true;
      break;
    case 10:
      headers.push(`x-bare: a\ncontent-length: ${body.length}`);
      close = true;
      break;
    case 11:
      headers.push(`content-length: ${body.length + 5}`); // cut short
      close = true;
      break;
    case 12:
      headers.push('transfer-encoding: chunked');
      payload = chunked(r, body, false).slice(0, -5 - r.int(3)); // cut short
      close = true;
      break;
    case 13:
      headers.push('transfer-encoding: chunked');
      payload = `${r.pick(['-5', '0x5', 'zz', '5 5'])}\r\nhello\r\n0\r\n\r\n`;
      close = true;
      break;
  }
  const head = `${version} ${status} Fuzz\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  return { bytes: `${informational}${head}${noBody || method === 'HEAD' ? '' : payload}`, close, gatewayRefuses };
}

// ---- reading answers on the client side ------------------------------------------------------

interface ClientAnswer {
  status: number;
  headers: Map<string, string[]>;
  body: string;
  complete: boolean;
}

/** Reads node-framed answers in order (the gateway's and the oracle's are node's http server's). */
function parseAnswers(data: string, methods: string[]): ClientAnswer[] {
  const answers: ClientAnswer[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const lines = data.slice(at, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = new Map<string, string[]>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    at = end + 4;
    const answer: ClientAnswer = { status, headers, body: '', complete: true };
    answers.push(answer);
    if (methods[answers.length - 1] === 'HEAD' || status === 204 || status === 304) continue;
    const length = headers.get('content-length')?.[0];
    if (headers.get('transfer-encoding')?.[0] === 'chunked') {
      for (;;) {
        const eol = data.indexOf('\r\n', at);
        if (eol === -1) return ((answer.complete = false), answers);
        const size = parseInt(data.slice(at, eol), 16);
        if (size === 0) {
          if (data.indexOf('\r\n\r\n', eol) !== eol) return ((answer.complete = false), answers);
          at = eol + 4;
          break;
        }
        if (data.length < eol + 2 + size + 2) return ((answer.complete = false), answers);
        answer.body += data.slice(eol + 2, eol + 2 + size);
        at = eol + 4 + size;
      }
    } else if (length !== undefined) {
      answer.body = data.slice(at, at + Number(length));
      answer.complete = answer.body.length === Number(length);
      at += Number(length);
    } else {
      answer.body = data.slice(at);
      at = data.length;
    }
  }
  return answers;
}

/**
 * Writes `bytes` and reads until `expected` complete answers came or the server closed the
 * connection (no half-close: node's server drops pipelined requests still in flight on one).
 * `expected` 0 sends and hangs up at once (a request cut short).
 */
function exchange(url: string, bytes: string, methods: string[], expected: number): Promise<ClientAnswer[]> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(parseAnswers(data, methods));
    };
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      const answers = parseAnswers(data, methods);
      if (answers.length >= expected && answers.every((a) => a.complete)) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.write(bytes, 'latin1', () => {
      if (expected === 0) finish();
    });
  });
}

/** node's own client reading a scripted answer straight from the upstream. */
function reference(upstreamUrl: string, target: string, method: string): Promise<ClientAnswer | undefined> {
  const { hostname, port } = new URL(upstreamUrl);
  return new Promise((resolve) => {
    const req = request({ hostname, port, path: target, method: method === 'HEAD' ? 'HEAD' : 'GET', agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('error', () => resolve(undefined));
      // A body cut short ends in 'close' alone (a promise settles once: after 'end' this is a no-op).
      res.on('close', () => setImmediate(() => resolve(undefined)));
      res.on('end', () => {
        const headers = new Map<string, string[]>();
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i]!.toLowerCase();
          headers.set(name, [...(headers.get(name) ?? []), res.rawHeaders[i + 1]!]);
        }
        resolve(res.complete ? { status: res.statusCode ?? 0, headers, body, complete: true } : undefined);
      });
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** The headers an end-to-end comparison looks at: the generated ones, cookies, the type. */
function endToEnd(headers: Map<string, string[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, values] of headers) if (name.startsWith('x-f-') || name === 'set-cookie' || name === 'content-type') out[name] = values;
  return out;
}

// ---- the run --------------------------------------------------------------------------------

let upstream: RawUpstream;
let shadowSink: RawUpstream;
let oracle: Server;
let oracleUrl: string;
let gateway: TestGateway;
const answers = new Map<string, GeneratedAnswer>();
let oracleSeen: Array<{ method: string; url: string; body: string }> = [];

before(async () => {
  upstream = await startRawUpstream((request: RawRequest, socket) => {
    const id = request.target.split('?')[0]!.split('/')[2] ?? '';
    const answer = answers.get(id);
    if (!answer) return `HTTP/1.1 200 OK\r\ncontent-length: ${request.target.length}\r\n\r\n${request.target}`;
    if (answer.close) return void socket.end(answer.bytes, 'latin1');
    return Buffer.from(answer.bytes, 'latin1');
  });
  shadowSink = await startRawUpstream(() => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  oracle = createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      oracleSeen.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => oracle.listen(0, '127.0.0.1', resolve));
  oracleUrl = `http://127.0.0.1:${(oracle.address() as AddressInfo).port}`;
  gateway = await startTestGateway("routes:\n  - { name: ord, paths: ['/o/*'], default: shadow }\n  - { name: hot, paths: ['/h/*'] }\n", {
    LEGACY_UPSTREAM_URL: upstream.url,
    IDP_UPSTREAM_URL: shadowSink.url,
    UPSTREAM_TIMEOUT_MS: '20000',
  });
});

after(async () => {
  await gateway?.stop();
  await upstream?.close();
  await shadowSink?.close();
  oracle?.closeAllConnections();
  oracle?.close();
});

test(`forwarder differential fuzz (${CASES} cases, seed ${SEED}; replay with FUZZ_SEED=${SEED})`, async (t) => {
  t.diagnostic(`seed ${SEED}`);
  console.log(`forwarder fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED} FUZZ_CASES=${CASES})`);
  const r = generator(SEED);
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  let forwarded = 0;
  let refused = 0;
  const cutIds: string[] = [];
  try {
    for (let n = 0; n < CASES; n++) {
      const prefix = r.pick(['/h', '/o']);
      const count = 1 + r.int(3);
      const requests = Array.from({ length: count }, (_, i) => generateRequest(r, `c${n}r${i}`, prefix, i === 0, i === count - 1));
      for (let i = 0; i < requests.length; i++) answers.set(`c${n}r${i}`, generateAnswer(r, requests[i]!.method));
      const methods = requests.map((q) => q.method);
      // A request cut short is sent alone, cut after its head: nothing of it may be completed upstream.
      let cut: string | undefined;
      if (r.chance(0.08)) {
        requests.splice(1);
        const whole = requests[0]!.bytes;
        cut = whole.slice(0, Math.min(whole.length - 1, whole.indexOf('\r\n\r\n') + 4 + r.int(20)));
      }
      const bytes = cut ?? requests.map((q) => q.bytes).join('');
      let gatewayAnswers: ClientAnswer[] = [];
      const context = () =>
        `seed ${SEED} case ${n}: ${JSON.stringify(bytes)}\nupstream answers: ${JSON.stringify(requests.map((_, i) => answers.get(`c${n}r${i}`)?.bytes))}\n` +
        `gateway answers: ${JSON.stringify(gatewayAnswers.map((a) => [a.status, Object.fromEntries(a.headers), a.body.slice(0, 200), a.complete]))}`;
      if (process.env.FUZZ_TRACE) console.log(context()); // which case a hang is in
      if (cut !== undefined) {
        cutIds.push(`${prefix}/c${n}r0`);
        await exchange(gateway.url, bytes, methods, 0);
      } else {
        oracleSeen = [];
        const oracleAnswers = await exchange(oracleUrl, bytes, methods, requests.length);
        const expected = oracleSeen;
        const seenBefore = upstream.seen.length;
        gatewayAnswers = await exchange(gateway.url, bytes, methods, requests.length);
        // Pipelined requests go upstream on connections of their own, so in any order: sorted by target.
        const seen = upstream.seen.slice(seenBefore).sort((a, b) => (a.target < b.target ? -1 : 1));

        // The upstream read a prefix of what node read, each request exactly, and nothing else.
        assert.ok(
          seen.length <= expected.length,
          `more requests upstream than node parsed (smuggling): ${context()}\nseen: ${seen.map((s) => s.target).join(' ')}`,
        );
        for (let i = 0; i < seen.length; i++) {
          assert.equal(seen[i]!.target, expected[i]!.url, context());
          assert.equal(seen[i]!.method, expected[i]!.method, context());
          assert.equal(seen[i]!.body.toString('latin1'), expected[i]!.body, context());
        }
        assert.deepEqual(upstream.garbage, [], `the upstream read something it could not parse: ${context()}`);

        // node's parser refused a request after these: its 400 then takes the place of answers
        // still in flight (node's server writes it at once and closes), at the gateway as anywhere.
        const parseError = oracleAnswers.some((a) => a.status === 400);
        for (let i = 0; i < expected.length; i++) {
          const got = gatewayAnswers[i];
          if (parseError && got?.status === 400 && !got.headers.has('x-request-id') && i === gatewayAnswers.length - 1) break;
          if (i >= seen.length) {
            // Not forwarded: only a request the gateway's own rules refuse, with a clean 400/405
            // and nothing after it.
            assert.ok(got, `request ${i} neither forwarded nor answered: ${context()}`);
            assert.ok(requests[i]!.gatewayRefuses, `a request node accepts was refused (${got.status}): ${context()}`);
            assert.equal(got.status, requests[i]!.method === 'TRACE' ? 405 : 400, context());
            assert.equal(gatewayAnswers.length, i + 1, `answers after a refusal: ${context()}`);
            refused++;
            break;
          }
          forwarded++;
          const ref = await reference(upstream.url, `/ref/c${n}r${i}`, methods[i]!);
          if (!ref) {
            // node's client could not read this answer: a clean 502, or an answer cut off (the
            // connection goes with it, before any byte when the break came before the first flush).
            assert.ok(
              got === undefined || got.status === 502 || !got.complete,
              `node's client failed on this answer, the gateway relayed it (${got?.status}): ${context()}`,
            );
            if (got === undefined || !got.complete) break;
            continue;
          }
          assert.ok(got, `no answer to a forwarded request: ${context()}`);
          if (got.status === 502 && answers.get(`c${n}r${i}`)!.gatewayRefuses) continue;
          assert.equal(got.complete, true, context());
          assert.equal(got.status, ref.status, context());
          assert.equal(got.body, ref.body, context());
          assert.deepEqual(endToEnd(got.headers), endToEnd(ref.headers), context());
          if (requests[i]!.closes) break;
        }
        // What node's parser refused, the gateway refused too (and forwarded nothing of it, checked above).
        if (parseError && gatewayAnswers.length > expected.length) {
          assert.equal(gatewayAnswers[expected.length]!.status, 400, context());
        }
      }

      // No pooled upstream connection was left out of step.
      const canary = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const { hostname, port } = new URL(gateway.url);
        const req = request({ hostname, port, path: `/h/canary-${n}`, agent: keepAlive }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual(canary, { status: 200, body: `/h/canary-${n}` }, `the next request did not get its own answer: ${context()}`);
      answers.clear();
    }
  } finally {
    keepAlive.destroy();
  }
  const completedCut = upstream.seen.filter((s) => cutIds.includes(s.target.split('?')[0]!));
  assert.deepEqual(completedCut, [], 'a request cut short reached the upstream as a complete one');
  t.diagnostic(`${forwarded} requests forwarded and compared, ${refused} refused by the gateway's own rules`);
  // A generator that stopped producing either kind would make this test vacuous.
  assert.ok(forwarded > CASES / 2 && refused > 0, `forwarded ${forwarded}, refused ${refused}`);
});
