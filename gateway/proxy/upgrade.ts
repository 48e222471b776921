import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientResponseHeaders } from './headers.ts';
import { requestUpstream, UPSTREAM_TIMED_OUT, type Upstream } from './upstream.ts';

function head(statusLine: string, headers: IncomingHttpHeaders | Record<string, string | string[] | number | undefined>): string {
  let text = `${statusLine}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${String(v).replace(/[\r\n]/g, '')}\r\n`;
  }
  return `${text}\r\n`;
}

/** Answers a refused upgrade on the raw socket (there is no ServerResponse for upgrades); `headers`: a bearer challenge. */
export function rejectUpgrade(socket: Duplex, status: number, error: string, requestId: string, headers?: Record<string, string>): void {
  const body = JSON.stringify({ error, request_id: requestId });
  const reason =
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      405: 'Method Not Allowed',
      421: 'Misdirected Request',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
      504: 'Gateway Timeout',
    }[status] ?? 'Error';
  if (!socket.writable) return void socket.destroy();
  socket.end(
    head(`HTTP/1.1 ${status} ${reason}`, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
      connection: 'close',
    }) + body,
  );
}

/**
 * Passes an HTTP upgrade (WebSocket) through: the upstream's 101 and headers go back to the client,
 * then bytes flow both ways untouched until either side closes. A refusal (any other status) is
 * relayed as it came. Upgraded connections never return to a keep-alive pool.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  firstBytes: Buffer,
  upstream: Upstream,
  headers: Record<string, string | string[] | number | undefined>,
  requestId: string,
  timeoutMs: number,
  track: (socket: Duplex) => void,
): void {
  // An upgraded socket leaves the pool for good: give it a connection of its own.
  const upstreamReq = requestUpstream(upstream, req, headers, timeoutMs, false);
  socket.on('error', () => upstreamReq.destroy());

  upstreamReq.once('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
    upstreamReq.setTimeout(0);
    upstreamSocket.setTimeout(0);
    track(socket);
    track(upstreamSocket);
    const responseHeaders = { ...upstreamRes.headers, 'x-request-id': requestId };
    socket.write(head(`HTTP/1.1 ${upstreamRes.statusCode ?? 101} ${upstreamRes.statusMessage ?? 'Switching Protocols'}`, responseHeaders));
    if (upstreamHead.length) socket.write(upstreamHead);
    if (firstBytes.length) upstreamSocket.write(firstBytes);
    const closeBoth = () => {
      socket.destroy();
      upstreamSocket.destroy();
    };
    upstreamSocket.on('error', closeBoth);
    socket.on('error', closeBoth);
    upstreamSocket.on('close', closeBoth);
    socket.on('close', closeBoth);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });

  upstreamReq.once('response', (upstreamRes) => {
    // The upstream said no to the upgrade: relay its answer and close.
    const responseHeaders = { ...clientResponseHeaders(upstreamRes.headers), 'x-request-id': requestId, connection: 'close' };
    socket.write(head(`HTTP/1.1 ${upstreamRes.statusCode ?? 502} ${upstreamRes.statusMessage ?? ''}`, responseHeaders));
    upstreamRes.pipe(socket);
  });

  upstreamReq.once('error', (error: NodeJS.ErrnoException) => {
    const timedOut = error.code === UPSTREAM_TIMED_OUT;
    rejectUpgrade(socket, timedOut ? 504 : 502, timedOut ? 'gateway_timeout' : 'bad_gateway', requestId);
  });
  upstreamReq.end();
}
