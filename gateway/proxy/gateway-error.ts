import type { ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from '../../lib/request-context.ts';

/** The gateway's own error answer: a code and the request id, nothing about the upstream. */
export function sendGatewayError(res: ServerResponse, status: number, error: string, requestId: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error, request_id: requestId });
  // The id is set here too: on the hot path nothing else has put it on the response.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', [REQUEST_ID_HEADER]: requestId });
  res.end(body);
}
