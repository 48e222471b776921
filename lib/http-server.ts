import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger.ts';

const kLatest = Symbol('latest response');
type TrackedSocket = Socket & { [kLatest]?: ServerResponse };

/** RFC 6455 4.1: a GET whose Upgrade is `websocket`, the one protocol any service tunnels. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.method === 'GET' && /^websocket$/i.test((req.headers.upgrade ?? '').trim());
}

export interface ServeOptions {
  host: string;
  port: number;
  logger: Logger;
  /** How long in-flight requests get to finish once a drain starts. */
  graceMs: number;
  /** How long to keep answering while not ready before closing the listener (load balancer catch-up). */
  delayMs?: number;
}

export interface RunningServer {
  server: Server;
  url: string;
  readonly draining: boolean;
  /** Stops accepting, lets in-flight requests finish; resolves true when none had to be cut. */
  drain(): Promise<boolean>;
}

/**
 * Listens with `handler` and knows how to stop without dropping a request: once draining, every
 * response says `Connection: close`; after `delayMs` the listener closes, and with it the
 * keep-alive connections idle then. Those have gone the whole delay without a request, which a
 * load balancer whose own idle timeout is shorter than the delay never does (nginx's
 * keepalive_timeout in deploy/nginx): it would have closed them first. A connection busy then is
 * never closed by the server between two requests (the client may be sending the next one
 * already: closing it would reset that request unread); it ends with its response's
 * `Connection: close`, or when the client closes it, or at the end of the grace period, where
 * only connections with a response still unfinished count as cut.
 */
export async function serve(handler: RequestListener, options: ServeOptions): Promise<RunningServer> {
  let draining = false;
  // The latest response of each open connection, so a drain can tell the ones in flight to close
  // their connection. Tracked per connection (a listener each) rather than per request: a 'close'
  // listener on every response cost the gateway's proxy path ~2 us a request (docs/PERFORMANCE.md).
  const connections = new Set<Socket>();
  // insecureHTTPParser false, said here: unset, node takes --insecure-http-parser (NODE_OPTIONS in a
  // deploy) and then reads two lengths, obs-fold and bare LF, the framing a proxy must refuse.
  const server: Server = createServer(
    {
      keepAliveTimeout: 65_000,
      requestTimeout: 120_000,
      insecureHTTPParser: false,
      // Only a WebSocket upgrade is ever an upgrade (to a service that listens for them); any
      // other (h2c, TLS) is an ordinary request, its Upgrade header dropped as hop-by-hop.
      // Tunnelled, an upstream's 101 would let the client speak straight to it (h2c
      // smuggling): requests that skip route matching and the identity-header strip.
      shouldUpgradeCallback: (req: IncomingMessage): boolean => server.listenerCount('upgrade') > 0 && isWebSocketUpgrade(req),
    },
    (req: IncomingMessage, res: ServerResponse) => {
      if (draining) res.shouldKeepAlive = false;
      (req.socket as TrackedSocket)[kLatest] = res;
      handler(req, res);
    },
  );
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  // No service tunnels: CONNECT gets a 405 rather than node's silent close (there is no handler to refuse it).
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  let drained: Promise<boolean> | undefined;
  const drain = () => {
    drained ??= (async () => {
      draining = true;
      // Responses already being handled are told `Connection: close` too, so their sockets end with them.
      for (const socket of connections) {
        const res = (socket as TrackedSocket)[kLatest];
        if (res && !res.headersSent) res.shouldKeepAlive = false;
      }
      if (options.delayMs) await sleep(options.delayMs);
      // server.close() closes the connections idle at this moment too (node >= 19); said here
      // because it is the one moment that may happen.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Cancelled once drained: a pending grace timer would keep the process alive for graceMs.
      const grace = new AbortController();
      const timer = sleep(options.graceMs, 'timeout' as const, { signal: grace.signal }).catch(() => 'closed' as const);
      const outcome = await Promise.race([closed.then(() => 'closed' as const), timer]);
      grace.abort();
      if (outcome === 'timeout') {
        const cut = [...connections].filter((socket) => {
          const res = (socket as TrackedSocket)[kLatest];
          return res !== undefined && !res.writableFinished;
        }).length;
        server.closeAllConnections();
        await closed;
        if (cut === 0) return true;
        options.logger.warn({ graceMs: options.graceMs, cut }, 'grace period over: closing connections still in flight');
        return false;
      }
      return true;
    })();
    return drained;
  };

  return {
    server,
    url,
    get draining() {
      return draining;
    },
    drain,
  };
}
