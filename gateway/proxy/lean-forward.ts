import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { clientResponseHeaders } from './headers.ts';
import type { ForwardOutcome } from './forward.ts';
import { sendGatewayError } from './gateway-error.ts';
import type { Connection, ConnectionPool } from './pool.ts';
import { ResponseParser } from './response-parser.ts';

class UpstreamTimeout extends Error {}

function requestHead(method: string, path: string, headers: OutgoingHttpHeaders, chunked: boolean): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}\r\n`;
    else head += `${name}: ${value}\r\n`;
  }
  if (chunked) head += 'transfer-encoding: chunked\r\n';
  return `${head}\r\n`;
}

/**
 * The hot path for plain-HTTP upstreams: one request head written straight to a pooled socket,
 * the response parsed by ResponseParser and streamed to the client with backpressure. It does
 * what node's http client would (framing, keep-alive, 1xx, HEAD/204/304, a retry of an idempotent
 * request on a stale pooled connection) for about half the CPU per request: see
 * docs/PERFORMANCE.md. Same contract as forward().
 */
export function forwardLean(
  req: IncomingMessage,
  res: ServerResponse,
  pool: ConnectionPool,
  headers: OutgoingHttpHeaders,
  requestId: string,
  timeoutMs: number,
  done: (outcome: ForwardOutcome) => void,
): void {
  const started = performance.now();
  const method = req.method ?? 'GET';
  const length = req.headers['content-length'];
  const chunkedUpload = req.headers['transfer-encoding'] !== undefined;
  const bodyless = !chunkedUpload && (length === undefined || length === '0');
  const head = requestHead(method, req.url ?? '/', headers, chunkedUpload);
  let reported = false;
  const report = (outcome: ForwardOutcome) => {
    if (reported) return;
    reported = true;
    done(outcome);
  };

  const attempt = (mayRetry: boolean) => {
    let received = false;
    let finished = false;
    let requestSent = bodyless;
    let keepAlive = false;

    const cleanup = () => {
      finished = true;
      res.off('close', onClientGone);
      if (!bodyless) {
        req.off('data', onRequestData);
        req.off('end', onRequestEnd);
      }
    };
    const fail = (error: Error) => {
      if (finished) return;
      cleanup();
      pool.discard(conn);
      if (res.headersSent) return void res.destroy();
      if (res.destroyed || req.socket.destroyed) return report({ status: 499, upstreamSeconds: undefined });
      // A pooled connection the upstream had closed: nothing reached it, so an idempotent
      // bodyless request may go again on a fresh one.
      if (mayRetry && bodyless && conn.reused && !received && !(error instanceof UpstreamTimeout)) return attempt(false);
      const timedOut = error instanceof UpstreamTimeout;
      sendGatewayError(res, timedOut ? 504 : 502, timedOut ? 'gateway_timeout' : 'bad_gateway', requestId);
      report({ status: timedOut ? 504 : 502, upstreamSeconds: undefined, failure: timedOut ? 'timeout' : 'unreachable' });
    };
    const onClientGone = () => {
      if (finished || res.writableFinished) return;
      cleanup();
      pool.discard(conn);
      report({ status: 499, upstreamSeconds: undefined });
    };

    const parser = new ResponseParser(method === 'HEAD', {
      onHead(h) {
        keepAlive = h.keepAlive;
        res.writeHead(h.status, h.statusMessage || undefined, clientResponseHeaders(h.headers));
        report({ status: h.status, upstreamSeconds: (performance.now() - started) / 1000, location: h.headers.location });
      },
      onBody(chunk) {
        if (!res.write(chunk)) {
          const socket = conn.socket;
          socket.pause();
          res.once('drain', () => socket.resume());
        }
      },
      onComplete(unusable) {
        cleanup();
        res.end();
        // Reusable only after a clean, complete exchange in both directions.
        pool.release(conn, keepAlive && !unusable && requestSent);
      },
    });

    const conn: Connection = pool.acquire(
      {
        onData(chunk) {
          received = true;
          try {
            parser.push(chunk);
          } catch (error) {
            fail(error as Error);
          }
        },
        onEnd() {
          if (finished) return;
          try {
            parser.end();
          } catch (error) {
            fail(error as Error);
          }
        },
        onError: fail,
        onTimeout: () => fail(new UpstreamTimeout('upstream timed out')),
      },
      timeoutMs,
    );
    res.once('close', onClientGone);
    const socket = conn.socket;
    socket.write(head, 'latin1');
    if (!bodyless) {
      req.on('data', onRequestData);
      req.once('end', onRequestEnd);
    }

    function onRequestData(chunk: Buffer) {
      const ok = chunkedUpload ? socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1') && socket.write(chunk) && socket.write('\r\n', 'latin1') : socket.write(chunk);
      if (!ok) {
        req.pause();
        socket.once('drain', () => req.resume());
      }
    }
    function onRequestEnd() {
      if (chunkedUpload) socket.write('0\r\n\r\n', 'latin1');
      requestSent = true;
    }
  };
  attempt(true);
}
