import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger.ts';

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
 * Listens with `handler` and knows how to stop without dropping a request: once draining,
 * every response says `Connection: close`, idle keep-alive sockets are closed at once, and
 * only sockets still busy after the grace period are cut.
 */
export async function serve(handler: RequestListener, options: ServeOptions): Promise<RunningServer> {
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000 }, (req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    handler(req, res);
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
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      if (options.delayMs) await sleep(options.delayMs);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A socket that finishes a response while draining is idle again: close it then.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      // Cancelled once drained: a pending grace timer would keep the process alive for graceMs.
      const grace = new AbortController();
      const timer = sleep(options.graceMs, 'timeout' as const, { signal: grace.signal }).catch(() => 'closed' as const);
      const outcome = await Promise.race([closed.then(() => 'closed' as const), timer]);
      grace.abort();
      clearInterval(sweep);
      if (outcome === 'timeout') {
        options.logger.warn({ graceMs: options.graceMs }, 'grace period over: closing connections still in flight');
        server.closeAllConnections();
        await closed;
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
