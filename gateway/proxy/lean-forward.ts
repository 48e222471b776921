import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { clientResponseHeaderList } from './headers.ts';
import type { ForwardOutcome } from './forward-outcome.ts';
import { cutResponse, sendGatewayError, upstreamFailure } from './gateway-error.ts';
import { reusableAfter, type Connection, type ConnectionPool, type ConnectionUser } from './pool.ts';
import { ResponseParser, type ParserEvents, type ResponseHead } from './response-parser.ts';

class UpstreamTimeout extends Error {}

const kExchanges = Symbol('exchanges in flight');
type TrackedSocket = Socket & { [kExchanges]?: Set<Exchange> };

/** One request as the lean forwarder sends it. */
export interface LeanRequest {
  /** The complete request head (headers.ts builds it). */
  head: string;
  method: string;
  bodyless: boolean;
  /** The client's body is chunked: it is re-chunked upstream as it streams. */
  chunked: boolean;
  requestId: string;
  /** Response headers the gateway adds, `[name, value, ...]` (the request id, a canary cookie). */
  extraHeaders: readonly string[] | undefined;
}

export interface LeanCallbacks {
  /** Once, when the client's status is known (the upstream's, or the gateway's 502/504, or 499). */
  answered(outcome: ForwardOutcome): void;
  /** Once, when the answer has been handed over in full (not when the client left first). */
  ended?(status: number): void;
}

/**
 * The hot path for plain-HTTP upstreams: one request head written straight to a pooled socket,
 * the response parsed by ResponseParser and streamed to the client with backpressure. It does
 * what node's http client would (framing, keep-alive, 1xx, HEAD/204/304, a retry of an idempotent
 * request on a stale pooled connection) for far less CPU per request: see docs/PERFORMANCE.md.
 * One object per request, its own listener for everything (no closure per event).
 */
class Exchange implements ConnectionUser, ParserEvents {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #pool: ConnectionPool;
  readonly #request: LeanRequest;
  readonly #timeoutMs: number;
  readonly #callbacks: LeanCallbacks;
  readonly #started = performance.now();
  #conn!: Connection;
  #parser!: ResponseParser;
  #mayRetry = true;
  #reported = false;
  #status = 0;
  #received = false;
  #finished = false;
  #requestSent = false;
  /** The response head came before the request body was all written. */
  #answeredEarly = false;
  #keepAlive = false;
  /** A body piece held back while a socket chunk is parsed, so a small answer goes out in one res.end. */
  #held: Buffer | undefined;
  /** Listeners on the client's body: made only for a request that has one. */
  readonly #bodyListeners: { data: (chunk: Buffer) => void; end: () => void } | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, pool: ConnectionPool, request: LeanRequest, timeoutMs: number, callbacks: LeanCallbacks) {
    this.#req = req;
    this.#res = res;
    this.#pool = pool;
    this.#request = request;
    this.#timeoutMs = timeoutMs;
    this.#callbacks = callbacks;
    this.#bodyListeners = request.bodyless ? undefined : { data: (chunk) => this.#onRequestData(chunk), end: () => this.#onRequestEnd() };
  }

  /**
   * A client that goes away must release its upstream connection at once. One 'close' listener
   * per client connection, not per response: that listener cost ~1.5 us a request.
   */
  static #track(exchange: Exchange, socket: TrackedSocket): void {
    let open = socket[kExchanges];
    if (!open) {
      const exchanges = (open = socket[kExchanges] = new Set());
      socket.once('close', () => {
        for (const e of exchanges) e.#clientGone();
        exchanges.clear();
      });
    }
    open.add(exchange);
  }

  start(mayRetry: boolean): void {
    const request = this.#request;
    this.#mayRetry = mayRetry;
    this.#received = false;
    this.#finished = false;
    this.#requestSent = request.bodyless;
    this.#answeredEarly = false;
    this.#keepAlive = false;
    this.#held = undefined;
    this.#parser = new ResponseParser(request.method === 'HEAD', this);
    Exchange.#track(this, this.#req.socket);
    this.#conn = this.#pool.acquire(this, this.#timeoutMs);
    const socket = this.#conn.socket;
    socket.write(request.head, 'latin1');
    const listeners = this.#bodyListeners;
    if (listeners) {
      this.#req.on('data', listeners.data);
      this.#req.once('end', listeners.end);
    }
  }

  // ConnectionUser: the upstream socket's events.
  onData(chunk: Buffer): void {
    this.#received = true;
    try {
      this.#parser.push(chunk);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    const held = this.#held;
    if (held !== undefined && !this.#finished) {
      this.#held = undefined;
      this.#write(held);
    }
  }

  onEnd(): void {
    if (this.#finished) return;
    try {
      this.#parser.end();
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  onError(error: Error): void {
    this.#fail(error);
  }

  onTimeout(): void {
    this.#fail(new UpstreamTimeout('upstream timed out'));
  }

  // ParserEvents: the upstream's response.
  onHead(head: ResponseHead): void {
    this.#keepAlive = head.keepAlive;
    this.#answeredEarly = !this.#requestSent;
    this.#res.writeHead(head.status, head.statusMessage || undefined, clientResponseHeaderList(head.rawHeaders, head.connection, this.#request.extraHeaders));
    this.#report({ status: head.status, upstreamSeconds: (performance.now() - this.#started) / 1000, location: head.location });
  }

  onBody(chunk: Buffer): void {
    if (this.#held !== undefined) this.#write(this.#held);
    this.#held = chunk;
  }

  onComplete(unusable: boolean): void {
    const held = this.#held;
    this.#held = undefined;
    this.#cleanup();
    if (held !== undefined) this.#res.end(held);
    else this.#res.end();
    // Reusable only after a clean, complete exchange in both directions (and see reusableAfter).
    const reusable = this.#keepAlive && !unusable && this.#requestSent && reusableAfter(!this.#request.bodyless, this.#status, this.#answeredEarly);
    this.#pool.release(this.#conn, reusable);
    this.#callbacks.ended?.(this.#status);
  }

  #write(chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      const socket = this.#conn.socket;
      socket.pause();
      this.#res.once('drain', () => socket.resume());
    }
  }

  #report(outcome: ForwardOutcome): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#status = outcome.status;
    this.#callbacks.answered(outcome);
  }

  #cleanup(): void {
    this.#finished = true;
    (this.#req.socket as TrackedSocket)[kExchanges]?.delete(this);
    const listeners = this.#bodyListeners;
    if (listeners) {
      this.#req.off('data', listeners.data);
      this.#req.off('end', listeners.end);
    }
  }

  #fail(error: Error): void {
    if (this.#finished) return;
    this.#cleanup();
    this.#pool.discard(this.#conn);
    const res = this.#res;
    if (res.headersSent) return cutResponse(res);
    if (res.destroyed || this.#req.socket.destroyed) return this.#report({ status: 499, upstreamSeconds: undefined });
    const timedOut = error instanceof UpstreamTimeout;
    // A pooled connection the upstream had closed: nothing reached it, so an idempotent
    // bodyless request may go again on a fresh one.
    if (this.#mayRetry && this.#request.bodyless && this.#conn.reused && !this.#received && !timedOut) return this.start(false);
    const { status, error: code, failure } = upstreamFailure(this.#req, timedOut);
    sendGatewayError(res, status, code, this.#request.requestId);
    this.#report({ status, upstreamSeconds: undefined, failure });
    this.#callbacks.ended?.(this.#status);
  }

  #clientGone(): void {
    if (this.#finished) return;
    this.#cleanup();
    this.#pool.discard(this.#conn);
    this.#report({ status: 499, upstreamSeconds: undefined });
  }

  #onRequestData(chunk: Buffer): void {
    const socket = this.#conn.socket;
    const ok = this.#request.chunked
      ? socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1') && socket.write(chunk) && socket.write('\r\n', 'latin1')
      : socket.write(chunk);
    if (!ok) {
      this.#req.pause();
      socket.once('drain', () => this.#req.resume());
    }
  }

  #onRequestEnd(): void {
    if (this.#request.chunked) this.#conn.socket.write('0\r\n\r\n', 'latin1');
    this.#requestSent = true;
  }
}

/** Streams one request to a plain-HTTP upstream's pool and its answer back to `res`. */
export function forwardLean(
  req: IncomingMessage,
  res: ServerResponse,
  pool: ConnectionPool,
  request: LeanRequest,
  timeoutMs: number,
  callbacks: LeanCallbacks,
): void {
  new Exchange(req, res, pool, request, timeoutMs, callbacks).start(true);
}
