// An answer sent before the request body was read to its end (a body parser's size limit, an
// early refusal) leaves the rest of that body on the connection. Node drains an unread body only
// if nobody started reading it; once a parser has, the remainder stays in the socket and the next
// request on that keep-alive connection is never parsed: the client waits forever. Draining it
// ourselves would let a client make us read any amount, so such an answer closes the connection.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Wraps `handler` so that an answer to a request whose body is not complete says `Connection: close`, and node ends the socket after it. */
export function closeIfBodyUnread(handler: RequestListener): RequestListener {
  return (req, res) => {
    if (hasBody(req)) {
      // writeHead is where node decides the Connection header; every way of answering goes through it.
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        if (!req.complete) this.shouldKeepAlive = false;
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
    }
    handler(req, res);
  };
}
