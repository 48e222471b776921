// Mounts oidc-provider in express under the issuer's path. oidc-provider (koa) either trusts
// every X-Forwarded-* header (proxy = true) or none; express already decides per peer with
// TRUST_PROXY, so its verdict on the client address is written back into the headers koa
// reads, and koa is told to trust those. Scheme and host are the issuer's, always:
// oidc-provider builds every URL it hands out (discovery, endpoints, redirects, the token
// endpoint audience) from the request's, so a client's Host (or a trusted proxy passing one
// on) would otherwise choose the URLs in the provider's metadata.
import type { Express, NextFunction, Request, Response } from 'express';
import type Provider from 'oidc-provider';

export function mountProvider(app: Express, provider: Provider, issuer: string): void {
  provider.proxy = true;
  const callback = provider.callback();
  const publicUrl = new URL(issuer);
  const path = publicUrl.pathname.replace(/\/$/, '');
  const proto = publicUrl.protocol.slice(0, -1);
  const handler = (req: Request, res: Response, _next: NextFunction) => {
    req.headers['x-forwarded-proto'] = proto;
    req.headers['x-forwarded-host'] = publicUrl.host;
    req.headers['x-forwarded-for'] = req.ip ?? req.socket.remoteAddress ?? '';
    delete req.headers.forwarded;
    // Under a path prefix, express strips it from req.url; oidc-provider wants it stripped too.
    void callback(req, res);
  };
  if (path) app.use(path, handler);
  else app.use(handler);
}
