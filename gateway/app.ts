import type { IncomingMessage } from 'node:http';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { currentRequest, REQUEST_ID_HEADER } from '../lib/request-context.ts';
import { startService, setRouteLabel, type RunningService } from '../lib/service.ts';
import { upstreamCheck } from '../lib/upstream-check.ts';
import type { GatewayConfig } from './config.ts';

export async function startGateway(config: GatewayConfig): Promise<RunningService> {
  return startService('gateway', config, config.GATEWAY_PORT, async ({ logger }) => {
    const toLegacy = createProxyMiddleware<IncomingMessage>({
      target: config.LEGACY_UPSTREAM_URL,
      xfwd: true,
      proxyTimeout: config.UPSTREAM_TIMEOUT_MS,
      on: {
        proxyReq(proxyReq) {
          const ctx = currentRequest();
          if (ctx) proxyReq.setHeader(REQUEST_ID_HEADER, ctx.requestId);
        },
        error(error, _req, res) {
          logger.warn({ err: { message: error.message, code: (error as NodeJS.ErrnoException).code } }, 'upstream failed');
          if ('writeHead' in res && !res.headersSent) {
            res.writeHead(502, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: 'bad_gateway', request_id: currentRequest()?.requestId }));
          } else {
            res.destroy();
          }
        },
      },
    });
    return {
      handler(req, res) {
        setRouteLabel(res, 'legacy');
        void toLegacy(req, res, () => undefined);
      },
      checks: [
        upstreamCheck('legacy', new URL(config.LEGACY_HEALTH_PATH, config.LEGACY_UPSTREAM_URL).href),
        upstreamCheck('idp', new URL('/healthz', config.IDP_UPSTREAM_URL).href),
      ],
    };
  });
}
