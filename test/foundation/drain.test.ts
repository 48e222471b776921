// lib/http-server.ts's drain and keep-alive connections, on a raw socket: a connection that is
// busy when the listener closes is never closed by the server between two requests (the client
// may already be sending the next one: the reset would lose it unread, the keep-alive race a
// rolling restart ran into), its next request is answered with `Connection: close`, and a
// connection only idle at the end of the grace period does not make the drain unclean.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve, type RunningServer } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';

/** A raw client: what it received so far, and whether the server closed the connection. */
class RawClient {
  readonly socket: Socket;
  received = '';
  closed = false;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => (this.received += d.toString()));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
  }

  send(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
  }

  async until(what: string, ok: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !ok(); i++) {
      if (this.closed) break;
      await sleep(10);
    }
    assert.ok(ok(), `${what}; received so far: ${JSON.stringify(this.received)}, closed: ${this.closed}`);
  }
}

/** A server whose /slow sends its head (keep-alive) at once and its body when `finish` is called. */
async function slowServer(graceMs: number): Promise<{ running: RunningServer; port: number; finish(): void }> {
  let pending: ServerResponse | undefined;
  const running = await serve(
    (req, res) => {
      if (req.url === '/slow') {
        res.writeHead(200, { 'content-length': '4' });
        res.write('sl');
        pending = res;
        return;
      }
      res.end('fast');
    },
    { host: '127.0.0.1', port: 0, logger: createLogger('drain-test', 'silent'), graceMs, delayMs: 0 },
  );
  return { running, port: Number(new URL(running.url).port), finish: () => pending?.end('ow') };
}

test('a keep-alive connection busy when the listener closes stays open for its next request, answered with Connection: close', async () => {
  const { running, port, finish } = await slowServer(10_000);
  const client = new RawClient(port);
  client.send('/slow');
  await client.until('the head of /slow, keep-alive', () => /connection: keep-alive/i.test(client.received));
  const drained = running.drain();
  await client.until('the listener closed', () => !running.server.listening);
  finish();
  await client.until('the whole of /slow', () => client.received.endsWith('slow'));
  // The connection is idle now, and the client believes it reusable (the head said keep-alive).
  // Time for any sweep of idle connections to run, then the client's next request on it.
  await sleep(300);
  assert.equal(client.closed, false, 'the server did not close the connection between two requests');
  client.received = '';
  client.send('/fast');
  await client.until('an answer to the next request', () => client.received.endsWith('fast'));
  assert.match(client.received, /^HTTP\/1\.1 200/);
  assert.match(client.received, /connection: close/i, 'told to go away');
  assert.equal(await drained, true, 'nothing was cut');
  await client.until('the connection closed after that answer', () => client.closed);
});

test('a connection that is only idle when the grace period ends is closed without making the drain unclean', async () => {
  const { running, port, finish } = await slowServer(500);
  const client = new RawClient(port);
  client.send('/slow');
  await client.until('the head of /slow', () => /connection: keep-alive/i.test(client.received));
  const drained = running.drain();
  await client.until('the listener closed', () => !running.server.listening);
  finish();
  await client.until('the whole of /slow', () => client.received.endsWith('slow'));
  assert.equal(await drained, true);
  await client.until('the connection closed at the end of the grace period', () => client.closed);
});
