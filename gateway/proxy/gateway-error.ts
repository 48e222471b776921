import type { ServerResponse } from 'node:http';

/** The gateway's own error answer: a code and the request id, nothing about the upstream. */
export function sendGatewayError(res: ServerResponse, status: number, error: string, requestId: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error, request_id: requestId });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
