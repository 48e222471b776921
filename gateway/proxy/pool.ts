import { connect, type Socket } from 'node:net';

export interface ConnectionUser {
  onData(chunk: Buffer): void;
  /** The upstream closed its side (or the socket closed). */
  onEnd(): void;
  onError(error: Error): void;
  onTimeout(): void;
}

/**
 * Whether an upstream connection may serve another request after an exchange that was complete
 * both ways and that the upstream kept alive. The gateway cannot see whether the upstream read
 * a body it was sent: a server that answers before the body is through, or with an error (400,
 * 401, 404, 413, 5xx: often decided from the head alone), may well not have, and the unread rest
 * would then be parsed as the next request on the connection (or make it wait). So a request
 * with a body keeps its connection only after a non-error answer that came once the whole body
 * was written; anything else costs one new connection, which is rare and cheap.
 */
export function reusableAfter(hadBody: boolean, status: number, answeredEarly: boolean): boolean {
  return !hadBody || (status < 400 && !answeredEarly);
}

/** One upstream TCP connection: serves one request at a time, then goes back to its pool. */
export class Connection {
  readonly socket: Socket;
  /** True when this connection served a request before (a stale keep-alive may fail at once). */
  reused = false;
  user: ConnectionUser | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
  }
}

/**
 * Keep-alive connections to one upstream, for the lean forwarder. Idle connections keep reading,
 * so an upstream that closes one is noticed at once (it leaves the pool) instead of when the next
 * request is written to it; one that sends bytes nobody asked for is closed.
 */
export class ConnectionPool {
  readonly #host: string;
  readonly #port: number;
  readonly #maxIdle: number;
  readonly #idleMs: number;
  readonly #idle: Connection[] = [];
  #closed = false;

  constructor(host: string, port: number, options: { maxIdle?: number; idleMs?: number } = {}) {
    this.#host = host;
    this.#port = port;
    this.#maxIdle = options.maxIdle ?? 256;
    // Below the 5 s keep-alive timeout of node's and many other servers, so we close first.
    this.#idleMs = options.idleMs ?? 4_000;
  }

  acquire(user: ConnectionUser, timeoutMs: number): Connection {
    let conn: Connection | undefined;
    while ((conn = this.#idle.pop())) {
      const s = conn.socket;
      if (!s.destroyed && s.readyState === 'open' && s.readableLength === 0) break;
      s.destroy();
    }
    if (!conn) conn = this.#open();
    else conn.reused = true;
    conn.user = user;
    conn.socket.setTimeout(timeoutMs);
    // A response that ended while its client applied backpressure may have left it paused.
    conn.socket.resume();
    return conn;
  }

  /** Back to the pool after a complete exchange; `reusable` false closes it instead. */
  release(conn: Connection, reusable: boolean): void {
    conn.user = undefined;
    if (!reusable || this.#closed || this.#idle.length >= this.#maxIdle || conn.socket.destroyed) {
      conn.socket.destroy();
      return;
    }
    conn.socket.setTimeout(this.#idleMs);
    conn.socket.resume();
    this.#idle.push(conn);
  }

  discard(conn: Connection): void {
    conn.user = undefined;
    conn.socket.destroy();
  }

  close(): void {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.socket.destroy();
  }

  #open(): Connection {
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 });
    const conn = new Connection(socket);
    socket.on('data', (chunk: Buffer) => {
      if (conn.user) conn.user.onData(chunk);
      else socket.destroy(); // bytes nobody asked for: the connection is out of step
    });
    socket.on('end', () => {
      if (conn.user) conn.user.onEnd();
      socket.destroy();
    });
    socket.on('close', () => {
      const user = conn.user;
      conn.user = undefined;
      const at = this.#idle.indexOf(conn);
      if (at !== -1) this.#idle.splice(at, 1);
      user?.onEnd();
    });
    socket.on('error', (error: Error) => conn.user?.onError(error));
    socket.on('timeout', () => {
      if (conn.user) conn.user.onTimeout();
      else socket.destroy();
    });
    return conn;
  }
}
