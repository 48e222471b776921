import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { PublicOrigin } from './headers.ts';
import { ConnectionPool } from './pool.ts';

export interface Upstream {
  name: string;
  url: URL;
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
  /** Keep-alive pool of node's http client (https upstreams, upgrades' fallbacks, shadow copies). */
  agent: HttpAgent;
  /** The lean forwarder's keep-alive connections (plain-HTTP upstreams: the hot path). */
  pool: ConnectionPool | undefined;
  /**
   * X-Forwarded-Proto/-Host this upstream always gets, whatever the client's Host or a proxy
   * said: an upstream that builds its own URLs from them (the idp: discovery, endpoints,
   * redirects) must only ever build public ones.
   */
  publicOrigin: PublicOrigin | undefined;
  /**
   * The name an https upstream's certificate is checked against (and sent as SNI): the host of its
   * configured URL, '' for an IP address (no SNI; checked against the address). Never left to
   * node, which takes the request's Host header, the client's: a client could then name any host
   * whose certificate a machine in the path holds, and the gateway would take that machine for
   * the upstream.
   */
  servername: string;
}

export function createUpstream(name: string, href: string, settings: { publicUrl?: string; maxSockets?: number } = {}): Upstream {
  const maxSockets = settings.maxSockets ?? 512;
  const publicUrl = settings.publicUrl === undefined ? undefined : new URL(settings.publicUrl);
  const url = new URL(href);
  const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
  const options = { keepAlive: true, keepAliveMsecs: 1_000, maxSockets, maxFreeSockets: 256, scheduling: 'lifo' as const };
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (protocol === 'https:' ? 443 : 80));
  return {
    name,
    url,
    protocol,
    hostname,
    port,
    agent: protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options),
    pool: protocol === 'http:' ? new ConnectionPool(hostname, port) : undefined,
    publicOrigin: publicUrl && { proto: publicUrl.protocol.slice(0, -1), host: publicUrl.host },
    servername: isIP(hostname) ? '' : hostname,
  };
}

/** The error code a request made by `requestUpstream` fails with when the upstream goes silent. */
export const UPSTREAM_TIMED_OUT = 'GATEWAY_UPSTREAM_TIMEOUT';

/**
 * One request to `upstream` through node's client, as the client sent it (its Host included),
 * failing with UPSTREAM_TIMED_OUT after `timeoutMs` of silence: idle time, not total time, so a
 * slow but steady download is fine and a silent upstream is not.
 */
export function requestUpstream(
  upstream: Upstream,
  req: IncomingMessage,
  headers: OutgoingHttpHeaders,
  timeoutMs: number,
  agent: HttpAgent | false,
): ClientRequest {
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  const upstreamReq = send({
    agent,
    protocol: upstream.protocol,
    hostname: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers,
    setHost: false,
    servername: upstream.servername,
    // Strict whatever --insecure-http-parser says: an answer framed two ways would desync the pooled connection.
    insecureHTTPParser: false,
  });
  upstreamReq.setTimeout(timeoutMs, () => {
    upstreamReq.destroy(Object.assign(new Error('upstream timed out'), { code: UPSTREAM_TIMED_OUT }));
  });
  return upstreamReq;
}
