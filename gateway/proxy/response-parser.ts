/**
 * An incremental HTTP/1.1 response parser for the lean forwarder: status line, headers, and the
 * body framing of RFC 9112 section 6.3 (no body, Content-Length, chunked, or until close). It
 * only frames: body bytes are handed on as they come, chunk framing removed.
 */

import { chunkedOnly } from './headers.ts';

export class ResponseParseError extends Error {}

export interface ResponseHead {
  status: number;
  statusMessage: string;
  /** `[name, value, ...]` as received (node's rawHeaders shape). */
  rawHeaders: string[];
  /** The Connection header's values, lowercased and joined (undefined without one). */
  connection: string | undefined;
  location: string | undefined;
  /** The upstream will keep the connection open after this response. */
  keepAlive: boolean;
}

export interface ParserEvents {
  onHead(head: ResponseHead): void;
  /** A piece of body; its buffer may be a view of the socket's chunk (use it before returning). */
  onBody(chunk: Buffer): void;
  /** The response is complete; `unusable` when the connection cannot serve another (bytes followed, or the body ran to its close). */
  onComplete(unusable: boolean): void;
}

// node's own default limit (--max-http-header-size), so whatever we relay a node client can read.
const MAX_HEAD = 16 * 1024;
const MAX_CHUNK_LINE = 4096;
const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
// `.` matches neither CR nor LF, so a size line holding a bare one is refused too.
const chunkSizeLine = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/;
const bareCrOrLf = /\r(?!\n)|(?<!\r)\n/;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type State = 'head' | 'fixed' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'until-close' | 'done';

export class ResponseParser {
  #state: State = 'head';
  #pending: Buffer | undefined;
  #remaining = 0;
  #trailerBytes = 0;
  readonly #noBody: boolean;
  readonly #events: ParserEvents;

  /** `headRequest`: the request was HEAD, so no response has a body whatever its headers say. */
  constructor(headRequest: boolean, events: ParserEvents) {
    this.#noBody = headRequest;
    this.#events = events;
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  /** True while reading a body whose end is the connection's end. */
  get readsUntilClose(): boolean {
    return this.#state === 'until-close';
  }

  /** The upstream closed the connection: completes a body read until close, else it is an error. */
  end(): void {
    if (this.#state === 'until-close') {
      this.#state = 'done';
      this.#events.onComplete(true);
      return;
    }
    if (this.#state !== 'done') throw new ResponseParseError('the upstream closed the connection before the response was complete');
  }

  push(data: Buffer): void {
    let chunk = this.#pending ? Buffer.concat([this.#pending, data]) : data;
    this.#pending = undefined;
    while (chunk.length > 0) {
      switch (this.#state) {
        case 'head': {
          const end = chunk.indexOf(HEAD_END);
          if (end > MAX_HEAD || (end === -1 && chunk.length > MAX_HEAD)) throw new ResponseParseError('response head too large');
          if (end === -1) {
            this.#pending = chunk;
            return;
          }
          const rest = chunk.subarray(end + 4);
          const informational = this.#head(chunk.toString('latin1', 0, end));
          chunk = rest;
          if (informational) continue;
          if ((this.#state as State) === 'done') return this.#complete(chunk);
          break;
        }
        case 'fixed': {
          const take = Math.min(this.#remaining, chunk.length);
          this.#events.onBody(chunk.subarray(0, take));
          this.#remaining -= take;
          chunk = chunk.subarray(take);
          if (this.#remaining === 0) return this.#complete(chunk);
          break;
        }
        case 'until-close':
          this.#events.onBody(chunk);
          return;
        case 'chunk-size': {
          const eol = chunk.indexOf(CRLF);
          if (eol > MAX_CHUNK_LINE || (eol === -1 && chunk.length > MAX_CHUNK_LINE)) throw new ResponseParseError('chunk size line too long');
          if (eol === -1) {
            this.#pending = chunk;
            return;
          }
          const sizeLine = chunkSizeLine.exec(chunk.toString('latin1', 0, eol));
          if (!sizeLine) throw new ResponseParseError('bad chunk size');
          const size = parseInt(sizeLine[1]!, 16);
          chunk = chunk.subarray(eol + 2);
          if (size === 0) this.#state = 'trailers';
          else {
            this.#remaining = size;
            this.#state = 'chunk-data';
          }
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.#remaining, chunk.length);
          this.#events.onBody(chunk.subarray(0, take));
          this.#remaining -= take;
          chunk = chunk.subarray(take);
          if (this.#remaining === 0) this.#state = 'chunk-data-end';
          break;
        }
        case 'chunk-data-end': {
          if (chunk.length < 2) {
            this.#pending = chunk;
            return;
          }
          if (chunk[0] !== 13 || chunk[1] !== 10) throw new ResponseParseError('chunk not followed by CRLF');
          chunk = chunk.subarray(2);
          this.#state = 'chunk-size';
          break;
        }
        case 'trailers': {
          // Trailer fields are dropped (as node's own proxying does); read up to the empty line.
          const eol = chunk.indexOf(CRLF);
          this.#trailerBytes += eol === -1 ? 0 : eol + 2;
          if (this.#trailerBytes > MAX_HEAD || (eol === -1 && chunk.length > MAX_HEAD)) throw new ResponseParseError('trailers too large');
          if (eol === -1) {
            this.#pending = chunk;
            return;
          }
          const empty = eol === 0;
          chunk = chunk.subarray(eol + 2);
          if (empty) return this.#complete(chunk);
          break;
        }
        case 'done':
          throw new ResponseParseError('the upstream sent bytes after the response');
      }
    }
  }

  #complete(leftover: Buffer): void {
    this.#state = 'done';
    this.#events.onComplete(leftover.length > 0);
  }

  /**
   * Parses one response head; returns true for a 1xx that another head follows. Whatever could
   * frame the body two ways is refused (a 502, the connection discarded), as node's own client
   * refuses it: bare CR or LF, obs-fold, whitespace before a colon, Content-Length repeated or not
   * plain digits, Content-Length with Transfer-Encoding, and a Transfer-Encoding other than
   * `chunked` (the gateway re-frames the body for its client and strips Transfer-Encoding, so
   * another coding would reach the client undecoded and unlabelled) or on an HTTP/1.0 answer.
   */
  #head(text: string): boolean {
    if (bareCrOrLf.test(text)) throw new ResponseParseError('bare CR or LF in the response head');
    const lines = text.split('\r\n');
    const match = statusLine.exec(lines[0] ?? '');
    if (!match) throw new ResponseParseError('bad status line');
    const minor = match[1];
    const status = Number(match[2]);
    if (status < 100) throw new ResponseParseError('bad status code');
    const rawHeaders: string[] = [];
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let location: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ResponseParseError('bad header line');
      const name = line.slice(0, colon);
      // Obsolete line folding, or `Content-Length : 5` (a name some parsers trim and others do not).
      if (isWhitespace(name.charCodeAt(0)) || isWhitespace(name.charCodeAt(colon - 1))) throw new ResponseParseError('whitespace around a header name');
      const value = line.slice(colon + 1).trim();
      // Names and values are also checked where they are written (res.writeHead refuses what is
      // not a token or holds a control character, and that becomes a 502).
      switch (name.toLowerCase()) {
        case 'content-length':
          if (contentLength !== undefined || !/^\d{1,15}$/.test(value)) throw new ResponseParseError('bad content-length');
          contentLength = value;
          break;
        case 'transfer-encoding':
          if (transferEncoding !== undefined || !chunkedOnly(value)) throw new ResponseParseError('unsupported transfer-encoding');
          transferEncoding = value;
          break;
        case 'connection':
          connection = connection ? `${connection}, ${value.toLowerCase()}` : value.toLowerCase();
          break;
        case 'location':
          location ??= value;
          break;
      }
      rawHeaders.push(name, value);
    }
    if (transferEncoding !== undefined && (contentLength !== undefined || minor === '0')) throw new ResponseParseError('ambiguous response framing');
    if (status >= 100 && status < 200) {
      if (status === 101) throw new ResponseParseError('unexpected 101 on a non-upgrade request');
      return true; // 100 Continue, 103 Early Hints: not relayed; the final answer follows
    }
    const keepAlive = minor === '1' ? !/\bclose\b/.test(connection ?? '') : /\bkeep-alive\b/.test(connection ?? '');
    this.#events.onHead({ status, statusMessage: match[3] ?? '', rawHeaders, connection, location, keepAlive });
    if (this.#noBody || status === 204 || status === 304) {
      this.#state = 'done';
      return false;
    }
    if (transferEncoding !== undefined) this.#state = 'chunk-size';
    else if (contentLength !== undefined) {
      this.#remaining = Number(contentLength);
      this.#state = this.#remaining === 0 ? 'done' : 'fixed';
    } else this.#state = 'until-close';
    return false;
  }
}

function isWhitespace(code: number): boolean {
  return code === 32 || code === 9;
}
