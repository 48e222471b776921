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

/** The gateway's own error answer: a code and the request id, nothing about the upstream. */
export function sendGatewayError(res: ServerResponse, status: number, error: string, requestId: string): void {
  if (res.headersSent || res.destroyed) {
    cutResponse(res);
    return;
  }
  const body = JSON.stringify({ error, request_id: requestId });
  // The id is set here too: on the hot path nothing else has put it on the response.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', [REQUEST_ID_HEADER]: requestId });
  res.end(body);
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
