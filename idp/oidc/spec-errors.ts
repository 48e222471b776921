// Where oidc-provider answers with a different error than RFC 6749 and OIDC Core specify, the
// answer is corrected here; each correction has a test in test/idp/refusals.test.ts.
import { errors, type KoaContextWithOIDC, type KoaMiddleware, type Provider } from 'oidc-provider';

export const TOKEN_ALONE_DESCRIPTION =
  'response_type=token is not supported (RFC 9700 deprecates the implicit grant for access tokens): ' +
  'use the authorization code flow with PKCE (response_type=code), or response_type=id_token token if this client is registered for it';

const GRANT_NOT_ALLOWED = 'requested grant type is not allowed for this client';

/** Normalised response_type of the authorization request being answered, if any. */
function requestedResponseType(ctx: KoaContextWithOIDC): string | undefined {
  const raw = ctx.oidc?.params?.response_type ?? ctx.query?.response_type;
  return typeof raw === 'string' ? [...new Set(raw.split(' '))].sort().join(' ') : undefined;
}

/** Rewrites an error's description inside a redirect's query or fragment. */
function rewriteLocation(location: string, description: string): string {
  const url = URL.parse(location);
  if (!url) return location;
  for (const part of ['hash', 'search'] as const) {
    const params = new URLSearchParams(url[part].slice(1));
    if (params.get('error') === 'unsupported_response_type') {
      params.set('error_description', description);
      url[part] = params.toString();
      return url.href;
    }
  }
  return location;
}

/** Adjusts an error about to be rendered as a page (renderError's `out`). */
export function correctErrorOut(ctx: KoaContextWithOIDC, out: Record<string, unknown>): Record<string, unknown> {
  if (out.error === 'unsupported_response_type' && requestedResponseType(ctx) === 'token') {
    return { ...out, error_description: TOKEN_ALONE_DESCRIPTION };
  }
  return out;
}

export function installSpecErrors(provider: Provider): void {
  // RFC 6749 §4.1.2.1 / §4.2.2.1: a response type the client is not registered for is
  // `unauthorized_client`; oidc-provider says invalid_request. This method is only consulted
  // by the authorization endpoint's response_type check, so throwing from it is safe.
  const allowed = provider.Client.prototype.responseTypeAllowed;
  provider.Client.prototype.responseTypeAllowed = function responseTypeAllowed(type: string) {
    if (allowed.call(this, type)) return true;
    throw new errors.UnauthorizedClient(`this client is not registered for response_type=${type}`);
  };

  const middleware: KoaMiddleware = async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    // RFC 6749 §5.2: a grant type the client is not registered for is `unauthorized_client`.
    if (route === 'token' && ctx.status === 400) {
      const body = ctx.body as Record<string, unknown> | undefined;
      if (body?.error === 'invalid_request' && body.error_description === GRANT_NOT_ALLOWED) {
        ctx.body = { ...body, error: 'unauthorized_client', error_description: 'this client is not registered for this grant type' };
      }
    }
    // response_type=token alone: say what to use instead.
    if (route === 'authorization' && ctx.status >= 300 && ctx.status < 400 && requestedResponseType(ctx) === 'token') {
      const location = ctx.res.getHeader('location');
      if (typeof location === 'string') ctx.set('location', rewriteLocation(location, TOKEN_ALONE_DESCRIPTION));
    }
  };
  provider.use(middleware);
}
