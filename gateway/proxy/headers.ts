import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { REQUEST_ID_HEADER, requestIdFrom } from '../../lib/request-context.ts';

/** RFC 9110 7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
]);

/**
 * The namespace of identity headers the gateway (and only the gateway) gives upstreams; a client
 * that sends one could claim to be anybody, so every request loses them at the door. Upstreams
 * may trust `x-identity-*` (and the common `x-user-*`, `x-remote-user`) because of this.
 */
export function isIdentityHeader(name: string): boolean {
  return (
    name.startsWith('x-identity-') ||
    name.startsWith('x-user-') ||
    name === 'x-user' ||
    name === 'x-remote-user' ||
    name === 'remote-user' ||
    name === 'x-authenticated-user' ||
    name === 'x-forwarded-user'
  );
}

/**
 * Headers some frameworks read as the path or the method to run instead of the request's own
 * (IIS and Zend's X-Original-URL and X-Rewrite-URL, the method overrides of many PHP and Rails
 * stacks): routes match the request's path and method, so these would let a request matched
 * to one route run another's page (a flipped login, through the catch-all). Never forwarded.
 */
const ROUTING_OVERRIDES = new Set(['x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override']);

/** Headers only the gateway itself may set, stripped from what clients send. */
export const GATEWAY_HEADER_PREFIX = 'x-gateway-';

/**
 * Framing and routing headers: a name in Connection never removes these, in either direction.
 * Dropping a Content-Length whose body is still streamed turns that body into a second request
 * the upstream reads unchecked (smuggling); dropping Host lets the upstream route elsewhere.
 * (Transfer-Encoding is hop-by-hop anyway: the gateway writes the upstream's framing itself.)
 */
const NEVER_CONNECTION_LISTED = new Set(['content-length', 'transfer-encoding', 'host']);

function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const names = new Set<string>();
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive' && !NEVER_CONNECTION_LISTED.has(name)) names.add(name);
  }
  return names.size ? names : undefined;
}

const kRefused = Symbol('refused connection');

/**
 * After a refusal nothing more from that client connection is forwarded: node still hands over
 * requests pipelined behind the refused one, split where node's reading of its framing said.
 */
export function refuseConnection(req: IncomingMessage): void {
  (req.socket as { [kRefused]?: true })[kRefused] = true;
}

function connectionRefused(req: IncomingMessage): boolean {
  return (req.socket as { [kRefused]?: true })[kRefused] === true;
}

/** Methods never proxied: TRACE echoes what reached the upstream (cookies, identity headers), CONNECT opens a tunnel. */
export function refusedMethod(method: string | undefined): boolean {
  return method === 'TRACE' || method === 'CONNECT';
}

const CHUNKED = /^chunked$/i;

/** A Transfer-Encoding the gateway frames: the one coding `chunked` (its name is case-insensitive, RFC 9112 7). */
export function chunkedOnly(value: string): boolean {
  return CHUNKED.test(value);
}

/**
 * The framing rules beyond what node's parser enforces (it already refuses both lengths,
 * repeated or malformed Content-Length, a Transfer-Encoding not ending in chunked, obs-fold and
 * bare CR/LF; test/gateway/framing.test.ts keeps it so): one Host, Transfer-Encoding exactly
 * `chunked` and only on HTTP/1.1 (RFC 9112 6.1), never with a length. Counts, not lists, so the
 * hot path allocates nothing for it.
 */
function framingAmbiguous(hosts: number, lengths: number, codings: number, codingOk: boolean, httpMinor: number): boolean {
  return hosts > 1 || lengths > 1 || codings > 1 || (codings === 1 && (!codingOk || lengths > 0 || httpMinor === 0));
}

/** The same rules read from a request's raw headers (the ordinary path). */
function requestFramingAmbiguous(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  let hosts = 0;
  let lengths = 0;
  let codings = 0;
  let codingOk = false;
  for (let i = 0; i < raw.length; i += 2) {
    switch (raw[i]!.toLowerCase()) {
      case 'host':
        hosts++;
        break;
      case 'content-length':
        lengths++;
        break;
      case 'transfer-encoding':
        codings++;
        codingOk = chunkedOnly(raw[i + 1]!);
        break;
    }
  }
  return framingAmbiguous(hosts, lengths, codings, codingOk, req.httpVersionMinor);
}

/**
 * The one rule for a client's request header (lowercase name): true when it never reaches an
 * upstream. Names are judged with `_` read as `-`: CGI, and so PHP, FastCGI and the like, give
 * an upstream `X_Remote_User` as HTTP_X_REMOTE_USER, the same variable as `X-Remote-User`, so
 * the underscore spelling of an identity or forwarding header is that header.
 */
function requestHeaderDropped(lower: string, listed: Set<string> | undefined): boolean {
  const name = lower.includes('_') ? lower.replaceAll('_', '-') : lower;
  return (
    HOP_BY_HOP.has(name) ||
    name === 'expect' ||
    name === REQUEST_ID_HEADER ||
    name.startsWith('x-forwarded-') ||
    name.startsWith(GATEWAY_HEADER_PREFIX) ||
    isIdentityHeader(name) ||
    ROUTING_OVERRIDES.has(name) ||
    listed?.has(lower) === true
  );
}

/** The one rule for an upstream's response header (lowercase name): true when the client does not get it. */
// The upstream's request id is the one the gateway sent it (or its own, if it refused ours): the
// gateway adds its own to every answer, so relaying the upstream's would say it twice.
function responseHeaderDropped(name: string, listed: Set<string> | undefined): boolean {
  return HOP_BY_HOP.has(name) || name === REQUEST_ID_HEADER || listed?.has(name) === true;
}

// A connection's peer does not change: decide trust once per connection, not per request.
const trustBySocket = new WeakMap<object, boolean>();
function trustedPeer(socket: object, peer: string, trusted: (address: string | undefined) => boolean): boolean {
  let known = trustBySocket.get(socket);
  if (known === undefined) trustBySocket.set(socket, (known = trusted(peer)));
  return known;
}

function peerAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The client's address behind the proxies TRUST_PROXY names (clientAddress), for a request. */
export function clientAddressOf(req: IncomingMessage, trust: (address: string | undefined) => boolean): string {
  const peer = peerAddress(req);
  return clientAddress(peer, trustedPeer(req.socket, peer, trust), joined(req.headers['x-forwarded-for']), trust);
}

interface Forwarded {
  for: string;
  proto: string;
  host: string | undefined;
}

/** The public scheme and host an upstream always gets as X-Forwarded-Proto/-Host (upstream.ts). */
export interface PublicOrigin {
  proto: string;
  host: string;
}

/**
 * The client's address as the gateway's TRUST_PROXY reads the chain: from the right, past every
 * trusted proxy, the first address none of ours vouches for (a malformed entry stops the walk at
 * the proxy that wrote it).
 */
function clientAddress(peer: string, peerTrusted: boolean, priorFor: string | undefined, trust: (address: string | undefined) => boolean): string {
  if (!peerTrusted || !priorFor) return peer;
  const hops = priorFor.split(',');
  let nearest = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (isIP(hop) === 0) return nearest;
    if (!trust(hop)) return hop;
    nearest = hop;
  }
  return nearest;
}

/**
 * X-Forwarded-For/-Proto/-Host for a request: a trusted peer's values are kept (For appended
 * to), anybody else's are replaced by what the gateway itself sees; a pinned upstream gets its
 * public origin as Proto/Host whatever the client or a proxy said, and as For the one client
 * address the gateway resolved: it trusts only the gateway, which would otherwise hand it the
 * load balancer's address as every client's (its login throttle would then count one address
 * for everybody).
 */
function forwardedValues(
  req: IncomingMessage,
  trust: (address: string | undefined) => boolean,
  priorFor: string | undefined,
  priorProto: string | undefined,
  priorHost: string | undefined,
  host: string | undefined,
  pinned: PublicOrigin | undefined,
): Forwarded {
  const peer = peerAddress(req);
  const trusted = trustedPeer(req.socket, peer, trust);
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  return {
    for: pinned ? clientAddress(peer, trusted, priorFor, trust) : trusted && priorFor ? `${priorFor}, ${peer}` : peer,
    proto: pinned?.proto ?? ((trusted && firstValue(priorProto)) || (encrypted ? 'https' : 'http')),
    host: pinned?.host ?? ((trusted && firstValue(priorHost)) || host),
  };
}

export interface ForwardingOptions {
  requestId: string;
  trusted: (address: string | undefined) => boolean;
  /** Upgrade requests keep `connection: upgrade` and `upgrade`. */
  upgrade?: boolean;
  /** The upstream's pinned public origin (Upstream.publicOrigin). */
  pinned?: PublicOrigin | undefined;
}

/**
 * What goes upstream: the client's headers minus hop-by-hop and identity ones, plus X-Forwarded-*,
 * the request id and the body's framing (`transfer-encoding: chunked` for a chunked body: node's
 * client would otherwise send a GET's body unframed). Undefined when the request must not be
 * forwarded at all (refusedMethod, ambiguous framing): the caller refuses it.
 */
export function upstreamRequestHeaders(req: IncomingMessage, options: ForwardingOptions): OutgoingHttpHeaders | undefined {
  if (refusedMethod(req.method) || connectionRefused(req) || requestFramingAmbiguous(req)) return undefined;
  const incoming = req.headers;
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (requestHeaderDropped(name, listed)) continue;
    out[name] = incoming[name];
  }
  const forwarded = forwardedValues(
    req,
    options.trusted,
    joined(incoming['x-forwarded-for']),
    joined(incoming['x-forwarded-proto']),
    joined(incoming['x-forwarded-host']),
    incoming.host,
    options.pinned,
  );
  out['x-forwarded-for'] = forwarded.for;
  out['x-forwarded-proto'] = forwarded.proto;
  if (forwarded.host) out['x-forwarded-host'] = forwarded.host;
  out[REQUEST_ID_HEADER] = options.requestId;
  if (options.upgrade) {
    out.connection = 'upgrade';
    if (incoming.upgrade) out.upgrade = incoming.upgrade;
  } else if (incoming['transfer-encoding'] !== undefined) out['transfer-encoding'] = 'chunked';
  return out;
}

/** A request as the proxy path reads it from the client's raw headers, in one pass. */
export interface UpstreamHead {
  /** The request head for the upstream, up to and including its blank line. */
  head: string;
  requestId: string;
  /** The Cookie header(s), for the canary bucket. */
  cookie: string | undefined;
  /** The request carries a bearer token (a split canary then checks it on the ordinary path). */
  bearer: boolean;
  /** The first Authorization header's value (an API route's bearer check). */
  authorization: string | undefined;
  /** The Host header (GATEWAY_ALLOWED_HOSTS). */
  host: string | undefined;
  /** The client's scheme is https (TLS here, or a trusted proxy's X-Forwarded-Proto): cookies set on the answer are Secure. */
  https: boolean;
  /** The body is chunked (it is re-chunked upstream); false with Content-Length or no body. */
  chunked: boolean;
  bodyless: boolean;
}

const BEARER = /^bearer /i;

/**
 * The head an upstream gets, written straight from `req.rawHeaders` (names keep the client's
 * case) under the same rules as upstreamRequestHeaders: the proxy path never builds node's
 * header object, which cost more than the rest of the head. Values are written as the client
 * sent them; node's parser has already refused anything that could break a header line.
 * Undefined, as there, for a request that must not be forwarded.
 */
export function upstreamRequestHead(
  req: IncomingMessage,
  trust: (address: string | undefined) => boolean,
  pinned?: PublicOrigin,
  listed?: Set<string>,
): UpstreamHead | undefined {
  if (refusedMethod(req.method) || connectionRefused(req)) return undefined;
  const raw = req.rawHeaders;
  let lines = '';
  let id: string | undefined;
  let cookie: string | undefined;
  let connection: string | undefined;
  let priorFor: string | undefined;
  let priorProto: string | undefined;
  let priorHost: string | undefined;
  let host: string | undefined;
  let bearer = false;
  let authorization: string | undefined;
  let codings = 0;
  let codingOk = false;
  let hosts = 0;
  let lengths = 0;
  let length: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        // Two could route differently here and upstream: framingAmbiguous refuses them.
        if (hosts++ > 0) continue;
        host = value;
        break;
      case 'cookie':
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        break;
      case 'authorization':
        bearer ||= BEARER.test(value);
        authorization ??= value;
        break;
      case 'content-length':
        lengths++;
        length ??= value;
        break;
      case 'transfer-encoding':
        codings++;
        codingOk = chunkedOnly(value);
        continue;
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        continue;
      case REQUEST_ID_HEADER:
        id ??= value;
        continue;
      case 'x-forwarded-for':
        priorFor = priorFor === undefined ? value : `${priorFor}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        priorProto ??= value;
        continue;
      case 'x-forwarded-host':
        priorHost ??= value;
        continue;
    }
    if (requestHeaderDropped(lower, listed)) continue;
    lines += `${name}: ${value}\r\n`;
  }
  if (framingAmbiguous(hosts, lengths, codings, codingOk, req.httpVersionMinor)) return undefined;
  // Names the Connection header lists are hop-by-hop too; rare, so only then a second pass.
  if (listed === undefined && connection !== undefined) {
    const names = connectionListed(connection);
    if (names) return upstreamRequestHead(req, trust, pinned, names);
  }
  const chunked = codings > 0;
  const requestId = requestIdFrom(id);
  const forwarded = forwardedValues(req, trust, priorFor, priorProto, priorHost, host, pinned);
  lines += `x-forwarded-for: ${forwarded.for}\r\nx-forwarded-proto: ${forwarded.proto}\r\n`;
  if (forwarded.host) lines += `x-forwarded-host: ${forwarded.host}\r\n`;
  lines += `${REQUEST_ID_HEADER}: ${requestId}\r\n`;
  if (chunked) lines += 'transfer-encoding: chunked\r\n';
  return {
    head: `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n${lines}\r\n`,
    requestId,
    cookie,
    bearer,
    authorization,
    host,
    https:
      (req.socket as { encrypted?: boolean }).encrypted === true || (trustedPeer(req.socket, peerAddress(req), trust) && firstValue(priorProto) === 'https'),
    chunked,
    bodyless: !chunked && (length === undefined || length === '0'),
  };
}

/** The same head from a header object (the ordinary path, whose headers are already an object). */
export function requestHeadFrom(method: string, path: string, headers: OutgoingHttpHeaders): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}\r\n`;
    else head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function firstValue(value: string | undefined): string | undefined {
  return value ? value.split(',')[0]?.trim() || undefined : undefined;
}

/** The upstream's response headers minus hop-by-hop ones (node frames the body for the client itself). */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (responseHeaderDropped(name, listed)) continue;
    out[name] = headers[name];
  }
  return out;
}

/**
 * The same from a raw list (`[name, value, ...]`, as node's rawHeaders), as the flat list
 * `res.writeHead` takes: duplicates and the upstream's name case are kept, `extra` (the
 * gateway's own: request id, a canary cookie) is added after them.
 */
export function clientResponseHeaderList(raw: string[], connection: string | undefined, extra: readonly string[] | undefined): string[] {
  const listed = connectionListed(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (responseHeaderDropped(name.toLowerCase(), listed)) continue;
    out.push(name, raw[i + 1]!);
  }
  if (extra) for (const item of extra) out.push(item);
  return out;
}
