import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { REQUEST_ID_HEADER } from '../../lib/request-context.ts';

/** RFC 9110 7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authorization', 'proxy-authenticate', 'http2-settings',
]);

/**
 * The namespace of identity headers the gateway (and only the gateway) gives upstreams; a client
 * that sends one could claim to be anybody, so every request loses them at the door. Upstreams
 * may trust `x-identity-*` (and the common `x-user-*`, `x-remote-user`) because of this.
 */
export function isIdentityHeader(name: string): boolean {
  return name.startsWith('x-identity-') || name.startsWith('x-user-') || name === 'x-user' || name === 'x-remote-user' || name === 'remote-user' || name === 'x-authenticated-user' || name === 'x-forwarded-user';
}

/** Headers only the gateway itself may set, stripped from what clients send. */
export const GATEWAY_HEADER_PREFIX = 'x-gateway-';

function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const names = new Set<string>();
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive') names.add(name);
  }
  return names.size ? names : undefined;
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

export interface ForwardingOptions {
  requestId: string;
  trusted: (address: string | undefined) => boolean;
  /** Upgrade requests keep `connection: upgrade` and `upgrade`. */
  upgrade?: boolean;
}

/** What goes upstream: the client's headers minus hop-by-hop and identity ones, plus X-Forwarded-* and the request id. */
export function upstreamRequestHeaders(req: IncomingMessage, options: ForwardingOptions): OutgoingHttpHeaders {
  const incoming = req.headers;
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || name === 'expect' || name === REQUEST_ID_HEADER || name.startsWith('x-forwarded-') || name.startsWith(GATEWAY_HEADER_PREFIX) || isIdentityHeader(name) || listed?.has(name)) continue;
    out[name] = incoming[name];
  }
  const peer = peerAddress(req);
  const trusted = trustedPeer(req.socket, peer, options.trusted);
  const priorFor = trusted ? incoming['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = priorFor ? `${priorFor}, ${peer}` : peer;
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  out['x-forwarded-proto'] = (trusted && firstValue(incoming['x-forwarded-proto'])) || (encrypted ? 'https' : 'http');
  const host = (trusted && firstValue(incoming['x-forwarded-host'])) || incoming.host;
  if (host) out['x-forwarded-host'] = host;
  out[REQUEST_ID_HEADER] = options.requestId;
  if (options.upgrade) {
    out.connection = 'upgrade';
    if (incoming.upgrade) out.upgrade = incoming.upgrade;
  }
  return out;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v ? v.split(',')[0]?.trim() || undefined : undefined;
}

/** The upstream's response headers minus hop-by-hop ones (node frames the body for the client itself). */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}
