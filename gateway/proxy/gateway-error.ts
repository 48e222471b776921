import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from '../../lib/request-context.ts';
import { refuseConnection, refusedMethod } from './headers.ts';

/**
 * An answer that broke after its head: the client's connection is cut, so that it cannot take
 * a partial answer for a whole one. A pipelined answer still queued behind another has no
 * connection yet, and node's res.destroy() then only marks it: once its turn came, its partial
 * bytes would go out and the connection would wait for the rest for ever. It is cut then.
 */
export function cutResponse(res: ServerResponse): void {
  if (!res.socket && !res.destroyed) res.once('socket', (socket) => socket.destroy());
  res.destroy();
}

/** The gateway's own error answer: a code and the request id, nothing about the upstream; `headers`: a challenge, a Retry-After. */
export function sendGatewayError(res: ServerResponse, status: number, error: string, requestId: string, headers?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) {
    cutResponse(res);
    return;
  }
  // After a 408 the rest of the body may still come: the connection cannot carry another request.
  if (status === 408) res.shouldKeepAlive = false;
  const body = JSON.stringify({ error, request_id: requestId });
  // The id is set here too: on the hot path nothing else has put it on the response.
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    [REQUEST_ID_HEADER]: requestId,
  });
  res.end(body);
}

export interface UpstreamFailure {
  status: 408 | 502 | 504;
  error: 'request_timeout' | 'bad_gateway' | 'gateway_timeout';
  /** `client_timeout`: the client's fault, which says nothing about the upstream's health. */
  failure: 'client_timeout' | 'timeout' | 'unreachable';
}

/**
 * How the gateway answers when the upstream failed or went silent. Silence while the client is
 * still sending its body (not complete, and not held back by the upstream's backpressure) is
 * the upstream waiting for that body: a slow or stalled client, answered 408 and never counted
 * against the upstream (automatic rollback), or any client could force a rollback.
 */
export function upstreamFailure(req: IncomingMessage, timedOut: boolean): UpstreamFailure {
  if (!timedOut) return { status: 502, error: 'bad_gateway', failure: 'unreachable' };
  if (!req.complete && !req.isPaused()) return { status: 408, error: 'request_timeout', failure: 'client_timeout' };
  return { status: 504, error: 'gateway_timeout', failure: 'timeout' };
}

/**
 * A request the gateway will not forward (headers.ts: refusedMethod, ambiguous framing): 405 or
 * 400, and the connection closed, since whatever follows its head on it cannot be trusted to
 * be framed the way the client meant.
 */
export function refuseRequest(req: IncomingMessage, res: ServerResponse, requestId: string): void {
  res.shouldKeepAlive = false;
  refuseConnection(req);
  if (refusedMethod(req.method)) {
    res.setHeader('allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    sendGatewayError(res, 405, 'method_not_allowed', requestId);
  } else sendGatewayError(res, 400, 'bad_request', requestId);
}
