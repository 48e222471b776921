// Mounts oidc-provider in express under the issuer's path. oidc-provider (koa) either trusts
// every X-Forwarded-* header (proxy = true) or none; express already decides per peer with
// TRUST_PROXY, so its verdict is written back into the headers koa reads, and koa is told to
// trust those. A client that is not a trusted proxy can therefore never choose the scheme,
// host or address the provider sees.
import type { Express, NextFunction, Request, Response } from 'express';
import type Provider from 'oidc-provider';

export function mountProvider(app: Express, provider: Provider, issuer: string): void {
  provider.proxy = true;
  const callback = provider.callback();
  const path = new URL(issuer).pathname.replace(/\/$/, '');
  const handler = (req: Request, res: Response, _next: NextFunction) => {
    req.headers['x-forwarded-proto'] = req.protocol;
    req.headers['x-forwarded-host'] = req.host;
    req.headers['x-forwarded-for'] = req.ip ?? req.socket.remoteAddress ?? '';
    delete req.headers.forwarded;
    // Under a path prefix, express strips it from req.url; oidc-provider wants it stripped too.
    void callback(req, res);
  };
  if (path) app.use(path, handler);
  else app.use(handler);
}
