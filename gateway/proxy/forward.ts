import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { chunkedOnly, clientResponseHeaderList, requestHeadFrom } from './headers.ts';
import { cutResponse, sendGatewayError, upstreamFailure } from './gateway-error.ts';
import type { ForwardOutcome } from './forward-outcome.ts';
import { forwardLean } from './lean-forward.ts';
import { reusableAfter } from './pool.ts';
import { requestUpstream, UPSTREAM_TIMED_OUT, type Upstream } from './upstream.ts';

function joinedConnection(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Streams one request to `upstream` and its answer back, on the upstream's keep-alive pool:
 * plain-HTTP upstreams through the lean forwarder (lean-forward.ts), https ones through node's
 * client. No middleware stack on this path (see docs/PERFORMANCE.md). `done` is called once,
 * when the client's status is known.
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  headers: OutgoingHttpHeaders,
  requestId: string,
  timeoutMs: number,
  extraHeaders: readonly string[] | undefined,
  done: (outcome: ForwardOutcome) => void,
): void {
  if (upstream.pool) {
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const method = req.method ?? 'GET';
    const head = requestHeadFrom(method, req.url ?? '/', headers);
    return forwardLean(req, res, upstream.pool, { head, method, bodyless: !hasBody(req), chunked, requestId, extraHeaders }, timeoutMs, { answered: done });
  }
  const started = performance.now();
  let reported = false;
  const report = (outcome: ForwardOutcome) => {
    if (reported) return;
    reported = true;
    done(outcome);
  };
  const bodyless = !hasBody(req);

  const attempt = (mayRetry: boolean) => {
    const upstreamReq = requestUpstream(upstream, req, headers, timeoutMs, upstream.agent);
    const onClientGone = () => {
      if (!res.writableFinished) upstreamReq.destroy();
    };
    res.once('close', onClientGone);

    upstreamReq.once('response', (upstreamRes) => {
      const status = upstreamRes.statusCode ?? 502;
      const coding = upstreamRes.headers['transfer-encoding'];
      if (coding !== undefined && (!chunkedOnly(coding) || upstreamRes.httpVersionMinor === 0)) {
        // The same refusal as response-parser.ts: a coding the gateway would strip undecoded.
        upstreamReq.destroy();
        sendGatewayError(res, 502, 'bad_gateway', requestId);
        report({ status: 502, upstreamSeconds: undefined, failure: 'unreachable' });
        return;
      }
      // node's agent would return the socket to the pool: not after an answer that may have left body bytes unread.
      if (!reusableAfter(!bodyless, status, !upstreamReq.writableFinished)) upstreamReq.shouldKeepAlive = false;
      upstreamRes.once('end', () => {
        if (upstreamReq.writableEnded) return;
        // Answered in full before the body was through: the rest goes nowhere, read and dropped so the client's connection flows on.
        req.unpipe(upstreamReq);
        req.resume();
      });
      res.writeHead(
        status,
        upstreamRes.statusMessage,
        clientResponseHeaderList(upstreamRes.rawHeaders, joinedConnection(upstreamRes.headers.connection), extraHeaders),
      );
      const location = upstreamRes.headers.location;
      report({ status, upstreamSeconds: (performance.now() - started) / 1000, location });
      upstreamRes.on('error', () => cutResponse(res));
      upstreamRes.pipe(res);
    });

    upstreamReq.once('error', (error: NodeJS.ErrnoException) => {
      res.off('close', onClientGone);
      if (res.destroyed || req.socket.destroyed) {
        report({ status: 499, upstreamSeconds: undefined });
        return;
      }
      if (res.headersSent) {
        // The answer broke halfway: all that is left is to cut the client's connection too.
        cutResponse(res);
        return;
      }
      // A pooled connection the upstream closed just as we reused it: safe to retry once when
      // nothing of the request body can have been consumed.
      if (mayRetry && bodyless && upstreamReq.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
        attempt(false);
        return;
      }
      const { status, error: code, failure } = upstreamFailure(req, error.code === UPSTREAM_TIMED_OUT);
      sendGatewayError(res, status, code, requestId);
      report({ status, upstreamSeconds: undefined, failure });
    });

    if (bodyless) upstreamReq.end();
    else req.pipe(upstreamReq);
  };
  attempt(true);
}
