// A raw-TCP (or TLS) upstream for framing tests: it parses requests itself, strictly, and records
// each one with its framing and body bytes exactly as they arrived, so a test sees what an
// upstream would make of the gateway's bytes (a smuggled second request included); it answers
// with whatever bytes the test scripts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';

export interface RawRequest {
  /** Which upstream connection it came on (1, 2, ...). */
  connection: number;
  method: string;
  target: string;
  /** `[name, value]` as received. */
  headers: Array<[string, string]>;
  framing: 'none' | 'length' | 'chunked';
  body: Buffer;
}

/** The answer to one request: raw bytes, or undefined when the script wrote to the socket itself. */
export type Script = (request: RawRequest, socket: Socket) => string | Buffer | undefined;

export interface RawUpstream {
  url: string;
  seen: RawRequest[];
  /** Bytes that did not parse as a request (the connection was closed after them). */
  garbage: string[];
  readonly connections: number;
  close(): Promise<void>;
}

export function header(request: RawRequest, name: string): string[] {
  return request.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** A request complete in `data` from `at`: the request and where the next one starts, 'partial', or an error text. */
function parseRequest(data: Buffer, at: number, connection: number): { request: RawRequest; next: number } | 'partial' | string {
  const headEnd = data.indexOf('\r\n\r\n', at);
  if (headEnd === -1) return data.length - at > 64 * 1024 ? 'head too large' : 'partial';
  const lines = data.toString('latin1', at, headEnd).split('\r\n');
  const line = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(lines[0]!);
  if (!line) return 'bad request line';
  const headers: Array<[string, string]> = [];
  for (const text of lines.slice(1)) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(text);
    if (!m || /[\r\n\0]/.test(m[2]!)) return 'bad header line';
    headers.push([m[1]!, m[2]!]);
  }
  const request: RawRequest = { connection, method: line[1]!, target: line[2]!, headers, framing: 'none', body: Buffer.alloc(0) };
  const lengths = header(request, 'content-length');
  const codings = header(request, 'transfer-encoding');
  if (codings.length > 0 && lengths.length > 0) return 'both lengths';
  if (lengths.length > 1 || codings.length > 1) return 'repeated framing header';
  let pos = headEnd + 4;
  if (codings.length === 1) {
    if (codings[0] !== 'chunked') return 'unknown transfer-encoding';
    request.framing = 'chunked';
    const parts: Buffer[] = [];
    for (;;) {
      const eol = data.indexOf('\r\n', pos);
      if (eol === -1) return 'partial';
      const size = /^([0-9a-f]+)$/i.exec(data.toString('latin1', pos, eol));
      if (!size) return 'bad chunk size';
      const n = parseInt(size[1]!, 16);
      if (n === 0) {
        if (data.length < eol + 4) return 'partial';
        if (data.toString('latin1', eol + 2, eol + 4) !== '\r\n') return 'trailers';
        request.body = Buffer.concat(parts);
        return { request, next: eol + 4 };
      }
      if (data.length < eol + 2 + n + 2) return 'partial';
      parts.push(data.subarray(eol + 2, eol + 2 + n));
      if (data.toString('latin1', eol + 2 + n, eol + 4 + n) !== '\r\n') return 'chunk not followed by CRLF';
      pos = eol + 4 + n;
    }
  }
  if (lengths.length === 1) {
    if (!/^\d+$/.test(lengths[0]!)) return 'bad content-length';
    const n = Number(lengths[0]);
    if (data.length < pos + n) return 'partial';
    request.framing = 'length';
    request.body = Buffer.from(data.subarray(pos, pos + n));
    pos += n;
  }
  return { request, next: pos };
}

export async function startRawUpstream(script: Script, tls?: { key: Buffer; cert: Buffer }): Promise<RawUpstream> {
  const seen: RawRequest[] = [];
  const garbage: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      let at = 0;
      while (at < buffered.length) {
        const parsed = parseRequest(buffered, at, connection);
        if (parsed === 'partial') break;
        if (typeof parsed === 'string') {
          garbage.push(`${parsed}: ${buffered.toString('latin1', at, at + 200)}`);
          socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 7\r\nconnection: close\r\n\r\ngarbage');
          buffered = Buffer.alloc(0);
          return;
        }
        seen.push(parsed.request);
        at = parsed.next;
        const answer = script(parsed.request, socket);
        if (answer !== undefined && !socket.destroyed) socket.write(answer);
      }
      buffered = buffered.subarray(at);
    });
  };
  const server: Server = tls ? createTlsServer(tls, onSocket) : createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    garbage,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A throwaway certificate for 127.0.0.1, or for the DNS name `name` (openssl), or undefined when openssl is missing. */
export function testCertificate(name?: string): { key: Buffer; cert: Buffer; certFile: string; cleanup(): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-raw-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name ?? '127.0.0.1'}`,
        '-addext',
        name === undefined ? 'subjectAltName=IP:127.0.0.1' : `subjectAltName=DNS:${name}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    key: readFileSync(join(dir, 'key.pem')),
    cert: readFileSync(join(dir, 'cert.pem')),
    certFile: join(dir, 'cert.pem'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
  /** The gateway closed the connection after this answer. */
  closed: boolean;
}

/**
 * Sends raw bytes on a new connection and reads one answer (Content-Length framed, as every
 * answer in these tests is); when it says `connection: close`, waits for the close too.
 */
export function rawExchange(url: string, bytes: string | Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    let answer: RawAnswer | undefined;
    const check = () => {
      if (answer) return;
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = data.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      answer = { status: Number(head.split(' ')[1]), head, body: data.toString('latin1', end + 4, end + 4 + length), closed: false };
      if (!/\r\nconnection: *close/i.test(head)) {
        socket.destroy();
        resolve(answer);
      }
    };
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      check();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (answer) resolve({ ...answer, closed: true });
      else if (data.length === 0) reject(new Error('closed without an answer'));
      else reject(new Error(`closed mid-answer: ${data.toString('latin1', 0, 300)}`));
    });
    socket.write(bytes);
  });
}
