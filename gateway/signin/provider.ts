import * as client from 'openid-client';

export interface ProviderOptions {
  /** The public issuer (IDP_ISSUER): the ID token's `iss`, and where browsers are sent. */
  issuer: string;
  /** Where the gateway itself reaches the idp (IDP_UPSTREAM_URL). */
  upstream: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
}

/**
 * The idp as openid-client sees it. Discovery asks the public issuer, so openid-client checks
 * `iss` against it and the metadata holds the public endpoints (the authorization and end-session
 * URLs the browser follows); a custom fetch sends every back-channel request (discovery, token,
 * JWKS) for the issuer's origin to IDP_UPSTREAM_URL instead, with X-Forwarded-Host/-Proto of the
 * issuer, as the gateway's proxy would, so the idp answers with the public URLs. Nothing else is
 * ever fetched: a URL outside the issuer's origin is refused (the client secret goes nowhere else).
 * Discovery runs at the first sign-in and again after a failure, never at start (the idp may be
 * down then).
 */
export function createProviderConfiguration(options: ProviderOptions): () => Promise<client.Configuration> {
  const issuer = new URL(options.issuer);
  const upstream = new URL(options.upstream);

  const backChannel = async (url: string, init: client.CustomFetchOptions) => {
    const target = new URL(url);
    if (target.origin !== issuer.origin) throw new Error('refusing a request outside the issuer origin');
    const rewritten = new URL(`${target.pathname}${target.search}`, upstream.origin);
    const headers = { ...init.headers, 'x-forwarded-host': issuer.host, 'x-forwarded-proto': issuer.protocol.slice(0, -1) };
    return fetch(rewritten, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(options.timeoutMs) } as RequestInit);
  };

  let pending: Promise<client.Configuration> | undefined;
  return () => {
    pending ??= client
      .discovery(issuer, options.clientId, undefined, client.ClientSecretBasic(options.clientSecret), {
        [client.customFetch]: backChannel,
        // http only where the issuer itself is http (development); https is never downgraded.
        execute: issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [],
        timeout: Math.ceil(options.timeoutMs / 1000),
      })
      .then((configuration) => {
        configuration[client.customFetch] = backChannel;
        return configuration;
      })
      .catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
    return pending;
  };
}
