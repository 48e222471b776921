// A request body the idp stops reading (too large for a body parser) must not poison its
// keep-alive connection: the next request on it is answered, or the connection is closed; it is
// never left waiting. Driven over a raw socket, since fetch would not reuse such a connection.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { closeSharedResources, withIdp } from '../support/idp.ts';

after(closeSharedResources);

// A deadline only to turn a hang into a failure; a working idp answers in milliseconds.
const HANG_MS = 30_000;
const BODY_BYTES = 320 * 1024;

interface Wire {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when `test` holds for what was received, or with 'closed' when the connection ends first, or 'hung'. */
  until(test: (text: string) => boolean): Promise<'matched' | 'closed' | 'hung'>;
}

function open(url: string): Promise<Wire> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    let closed = false;
    const waiters = new Set<() => void>();
    const wake = () => waiters.forEach((w) => w());
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      wake();
    });
    // A reset while we still send the body is one way of closing the connection.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      wake();
    });
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => text,
        until: (check) =>
          new Promise((done) => {
            const timer = setTimeout(() => finish('hung'), HANG_MS);
            const waiter = () => {
              if (check(text)) finish('matched');
              else if (closed) finish('closed');
            };
            function finish(outcome: 'matched' | 'closed' | 'hung') {
              clearTimeout(timer);
              waiters.delete(waiter);
              done(outcome);
            }
            waiters.add(waiter);
            waiter();
          }),
      }),
    );
    socket.once('error', reject);
  });
}

/** Complete responses in `text` (status lines of heads whose Content-Length body has fully arrived). */
function responses(text: string): { status: number; head: string }[] {
  const found: { status: number; head: string }[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return found;
    const head = rest.slice(0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (rest.length < end + 4 + length) return found;
    found.push({ status: Number(head.slice(9, 12)), head });
    rest = rest.slice(end + 4 + length);
  }
}

async function bigChunkedPostThenAnother(base: string, path: string, contentType: string) {
  const wire = await open(base);
  const host = new URL(base).host;
  try {
    wire.socket.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n`);
    const chunk = 'x'.repeat(16 * 1024);
    wire.socket.write(`2\r\na=\r\n`);
    for (let sent = 0; sent < BODY_BYTES; sent += chunk.length) wire.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    wire.socket.write('0\r\n\r\n');
    const first = await wire.until((text) => responses(text).length >= 1);
    assert.notEqual(first, 'hung', `${path}: the oversized request itself was never answered`);
    const [answer] = responses(wire.received());
    if (answer) assert.ok(answer.status >= 400 && answer.status < 500, `${path}: ${answer.head}`);
    // An answer that promised to close keeps its word; one that did not (a parser that read the
    // body to its end, as express's does) must serve the next request.
    if (answer && /\r\nconnection: close/i.test(answer.head)) {
      assert.notEqual(await wire.until(() => false), 'hung', `${path}: said Connection: close but left the connection open`);
    } else if (first === 'matched') {
      wire.socket.write(`GET /.well-known/openid-configuration HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const second = await wire.until((text) => responses(text).length >= 2);
      assert.notEqual(second, 'hung', `${path}: the next request on the connection was neither answered nor refused`);
      if (second === 'matched') assert.equal(responses(wire.received())[1]?.status, 200);
    }
  } finally {
    wire.socket.destroy();
  }
}

test('an oversized chunked body never leaves a keep-alive connection hanging', async (t) => {
  await withIdp(
    t,
    { db: 'sqlite', redis: false },
    async (idp) => {
      for (const path of ['/token', '/token/introspection', '/token/revocation']) {
        await t.test(path, () => bigChunkedPostThenAnother(idp.url, path, 'application/x-www-form-urlencoded'));
      }
      await t.test('/interaction/:uid/login (express body parser)', () =>
        bigChunkedPostThenAnother(idp.url, '/interaction/some-uid/login', 'application/x-www-form-urlencoded'),
      );
      await t.test('/internal/v1/login-check (express JSON parser)', () => bigChunkedPostThenAnother(idp.url, '/internal/v1/login-check', 'application/json'));

      await t.test('a small body read to its end keeps the connection alive', async () => {
        const wire = await open(idp.url);
        const host = new URL(idp.url).host;
        try {
          wire.socket.write(`POST /token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b`);
          assert.equal(await wire.until((text) => responses(text).length >= 1), 'matched');
          assert.doesNotMatch(responses(wire.received())[0]!.head, /\r\nconnection: close/i);
          wire.socket.write(`GET /.well-known/openid-configuration HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
          assert.equal(await wire.until((text) => responses(text).length >= 2), 'matched');
          assert.equal(responses(wire.received())[1]?.status, 200);
        } finally {
          wire.socket.destroy();
        }
      });
    },
    { realPages: true },
  );
});
