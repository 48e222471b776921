import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
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
}

export function createUpstream(name: string, href: string, maxSockets = 512): Upstream {
  const url = new URL(href);
  const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
  const options = { keepAlive: true, keepAliveMsecs: 1_000, maxSockets, maxFreeSockets: 256, scheduling: 'lifo' as const };
  return {
    name,
    url,
    protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || (protocol === 'https:' ? 443 : 80)),
    agent: protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options),
    pool: protocol === 'http:' ? new ConnectionPool(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 80)) : undefined,
  };
}
