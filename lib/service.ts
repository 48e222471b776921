import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ConfigError } from './config.ts';
import { healthHandler, type ReadinessCheck } from './health.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type HttpMetrics } from './metrics.ts';
import { REQUEST_ID_HEADER, requestIdOf, runInRequestContext } from './request-context.ts';
import { serve, type RunningServer } from './http-server.ts';

export interface CommonConfig {
  NODE_ENV: 'development' | 'test' | 'production';
  LOG_LEVEL: string;
  HOST: string;
  OPS_HOST: string;
  SHUTDOWN_GRACE_MS: number;
  SHUTDOWN_DELAY_MS: number;
}

export interface ServiceContext {
  logger: Logger;
  metrics: HttpMetrics;
  /** Counts and logs one finished request that a hot path took (the ordinary path does it itself). */
  finished(requestId: string, method: string, route: string, status: number, seconds: number): void;
}

export interface ServiceParts {
  /** Handles everything on the public port but /healthz (and /readyz and /metrics, which live on the ops port). */
  handler: RequestListener;
  /**
   * Tried before the ordinary path's per-request bookkeeping (request context, child logger,
   * finish listener); returns false to leave the request to `handler`. A request it takes is its
   * own to answer with its request id and to report through `finished`. The gateway's proxy path
   * is one: there that bookkeeping cost a third of the request (docs/PERFORMANCE.md).
   */
  hotPath?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** What /metrics serves, when not this process's registry alone (a cluster worker: all workers' sum). */
  metricsText?: () => Promise<string>;
  checks: ReadinessCheck[];
  /** Releases pools and connections after the last request has finished. */
  close?(): Promise<void>;
}

export interface RunningService extends RunningServer {
  /** The ops listener's URL: /metrics, /readyz (and /healthz). Not for the public. */
  opsUrl: string;
  opsServer: RunningServer['server'];
  logger: Logger;
  metrics: HttpMetrics;
  /** Drains, then closes what the service opened. */
  stop(): Promise<boolean>;
}

const routeLabels = new WeakMap<ServerResponse, string>();

/** Names the route a response belongs to, for metrics (never the raw path: that would explode cardinality). */
export function setRouteLabel(res: ServerResponse, route: string): void {
  routeLabels.set(res, route);
}

function routeLabelOf(req: IncomingMessage, res: ServerResponse): string {
  const named = routeLabels.get(res);
  if (named) return named;
  // Express leaves the matched route on the request.
  const matched = (req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string }).route;
  if (matched && typeof matched.path === 'string') return `${(req as { baseUrl?: string }).baseUrl ?? ''}${matched.path}`;
  return res.statusCode === 404 ? 'not_found' : 'other';
}

const RESERVED_PATHS = ['/metrics', '/healthz', '/readyz'] as const;
type ReservedPath = (typeof RESERVED_PATHS)[number];

function reservedPath(url: string): ReservedPath | undefined {
  for (const path of RESERVED_PATHS) {
    if (url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63) /* ? */) return path;
  }
  return undefined;
}

export interface ServicePorts {
  /** The public listener (on HOST): the service itself and /healthz. */
  port: number;
  /**
   * The ops listener (on OPS_HOST): /metrics and /readyz, which tell route modes and internal
   * errors and cost work per call, so they are not for whoever reaches the public port.
   */
  opsPort: number;
}

export async function startService(
  name: string,
  config: CommonConfig,
  ports: ServicePorts,
  build: (ctx: ServiceContext) => Promise<ServiceParts>,
): Promise<RunningService> {
  const logger = createLogger(name, config.LOG_LEVEL);
  const metrics = createMetrics(name);
  const finished = (requestId: string, method: string, route: string, status: number, seconds: number) => {
    metrics.record(route, method, status, seconds);
    if (route !== '/healthz' && route !== '/readyz' && route !== '/metrics' && logger.isLevelEnabled('info')) {
      logger.info({ reqId: requestId, method, route, status, ms: Math.round(seconds * 1000) }, 'request');
    }
  };
  const parts = await build({ logger, metrics, finished });
  const lifecycle: { server?: RunningServer } = {};
  const health = healthHandler(parts.checks, () => lifecycle.server?.draining ?? false);
  const hotPath = parts.hotPath;

  /** The per-request bookkeeping around `respond`, for both listeners. */
  const tracked =
    (
      respond: (req: IncomingMessage, res: ServerResponse, reserved: ReservedPath | undefined, log: () => Logger) => void,
      hot?: typeof hotPath,
    ): RequestListener =>
    (req, res) => {
      const reserved = reservedPath(req.url ?? '/');
      if (reserved === undefined && hot?.(req, res)) return;
      const started = performance.now();
      const requestId = requestIdOf(req);
      res.setHeader(REQUEST_ID_HEADER, requestId);
      // A pino child logger costs more than some whole requests: made only when something logs.
      let log: Logger | undefined;
      const context = {
        requestId,
        get log() {
          return (log ??= logger.child({ reqId: requestId }));
        },
      };
      res.once('finish', () => {
        finished(requestId, req.method ?? 'GET', routeLabelOf(req, res), res.statusCode, (performance.now() - started) / 1000);
      });
      runInRequestContext(context, () => respond(req, res, reserved, () => context.log));
    };

  const publicHandler = tracked((req, res, reserved) => {
    if (reserved === '/healthz') {
      setRouteLabel(res, reserved);
      void health(req, res);
      return;
    }
    // Not handed to the service either: on the gateway that would proxy them to the monolith.
    if (reserved !== undefined) return notFound(res);
    parts.handler(req, res);
  }, hotPath);

  const opsHandler = tracked((req, res, reserved, log) => {
    if (reserved === '/metrics' && req.method === 'GET') {
      setRouteLabel(res, '/metrics');
      (parts.metricsText ?? (() => metrics.registry.metrics()))().then(
        (body) => {
          res.setHeader('content-type', metrics.registry.contentType);
          res.end(body);
        },
        (error: unknown) => {
          log().error({ err: error }, 'metrics collection failed');
          res.statusCode = 500;
          res.end();
        },
      );
      return;
    }
    if (reserved === '/healthz' || reserved === '/readyz') {
      setRouteLabel(res, reserved);
      void health(req, res);
      return;
    }
    notFound(res);
  });

  let server: RunningServer;
  try {
    server = await serve(publicHandler, {
      host: config.HOST,
      port: ports.port,
      logger,
      graceMs: config.SHUTDOWN_GRACE_MS,
      delayMs: config.SHUTDOWN_DELAY_MS,
    });
  } catch (error) {
    // The port is taken (or refused): what build() opened must not keep the process alive.
    await parts.close?.();
    throw error;
  }
  lifecycle.server = server;
  let ops: RunningServer;
  try {
    ops = await serve(opsHandler, { host: config.OPS_HOST, port: ports.opsPort, logger, graceMs: 1_000 });
  } catch (error) {
    await server.drain();
    await parts.close?.();
    throw error;
  }
  let stopped: Promise<boolean> | undefined;
  return {
    server: server.server,
    url: server.url,
    opsUrl: ops.url,
    opsServer: ops.server,
    get draining() {
      return server.draining;
    },
    drain: () => server.drain(),
    logger,
    metrics,
    stop() {
      stopped ??= (async () => {
        // The ops listener outlives the public drain, so /readyz says "draining" all along it.
        const clean = await server.drain();
        await ops.drain();
        await parts.close?.();
        return clean;
      })();
      return stopped;
    },
  };
}

function notFound(res: ServerResponse): void {
  res.statusCode = 404;
  res.setHeader('content-type', 'application/json');
  res.end('{"error":"not_found"}');
}

/** Reads a configuration, or exits 78 (EX_CONFIG) naming each problem, as runMain does. */
export function configOrExit<T>(name: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${name}: ${error.message}`);
      process.exit(78);
    }
    throw error;
  }
}

/**
 * The body of every `main.ts`: reads the configuration (a bad one exits 78, EX_CONFIG, with
 * each problem named), starts, and on SIGTERM or SIGINT drains and exits.
 */
export async function runMain(name: string, start: () => Promise<RunningService>): Promise<void> {
  let service: RunningService;
  try {
    service = await start();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${name}: ${error.message}`);
      process.exit(78);
    }
    console.error(`${name}: failed to start:`, error instanceof Error ? error.message : error);
    process.exit(1);
  }
  service.logger.info({ url: service.url }, `${name} listening`);
  const shutdown = (signal: string) => {
    service.logger.info({ signal }, 'draining');
    service.stop().then(
      (clean) => {
        service.logger.info({ clean }, 'stopped');
        process.exit(clean ? 0 : 1);
      },
      (error: unknown) => {
        service.logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
