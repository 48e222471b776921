// A real idp (in-process, SQLite, in-process stores) that issues access tokens for a gateway
// admin resource and an unrelated API, and ways to get tokens from it: the client_credentials
// grant over HTTP as a client would, or minted by the idp's own provider for a given user (as
// the authorization code flow would end) when a test needs many subjects or an expired token.
import { hashClientSecret } from '../../idp/oidc/client-secrets.ts';
import { SECRET_KEY, startTestIdp, type TestIdp } from '../support/idp.ts';

export const ADMIN_AUDIENCE = 'https://gateway.example.test/admin';
export const OTHER_AUDIENCE = 'https://orders.example.test/api';
export const OPS_SECRET = 'gateway-ops-client-secret-generated-0123456789abcdef';
export const VIEWER_SECRET = 'gateway-viewer-client-secret-generated-0123456789abc';
export const ORDERS_SECRET = 'orders-client-secret-generated-0123456789abcdefghijk';

const RESOURCES = `
resources:
  - audience: ${ADMIN_AUDIENCE}
    name: Gateway admin
    scopes:
      gateway:admin: Flip routes
      gateway:status: See whether the gateway is up (not admin)
  - audience: ${OTHER_AUDIENCE}
    scopes:
      orders:read: Read your orders
`;

const client = (id: string, secret: string, scope: string) => `
  - client_id: ${id}
    token_endpoint_auth_method: client_secret_basic
    client_secret_hash: "${hashClientSecret(secret, SECRET_KEY)}"
    response_types: []
    grant_types: [client_credentials]
    scope: ${scope}`;

const CLIENTS = `
clients:${client('gateway-ops', OPS_SECRET, 'gateway:admin gateway:status')}${client('gateway-viewer', VIEWER_SECRET, 'gateway:status')}${client('orders', ORDERS_SECRET, 'orders:read')}
`;

export function startTokenIdp(options: { clients?: string; resources?: string; env?: Record<string, string> } = {}): Promise<TestIdp> {
  return startTestIdp({
    storage: { db: 'sqlite', redis: false },
    clients: options.clients ?? CLIENTS,
    resources: options.resources ?? RESOURCES,
    ...(options.env ? { env: options.env } : {}),
  });
}

/** The client_credentials grant at the idp's token endpoint; throws with the idp's answer on refusal. */
export async function clientCredentials(idp: TestIdp, clientId: string, secret: string, scope: string, resource?: string): Promise<string> {
  const res = await fetch(`${idp.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, ...(resource ? { resource } : {}) }),
  });
  const json = (await res.json()) as { access_token?: string; token_type?: string };
  if (res.status !== 200 || !json.access_token) throw new Error(`client_credentials for ${clientId} answered ${res.status}: ${JSON.stringify(json)}`);
  return json.access_token;
}

/**
 * A user's access token, signed by the idp's provider (or opaque, `format: 'opaque'`, then only
 * introspection resolves it); `expiredSecondsAgo` makes it expired.
 */
export async function userAccessToken(
  idp: TestIdp,
  sub: string,
  options: { audience?: string; scope?: string; expiredSecondsAgo?: number; client?: string; format?: 'jwt' | 'opaque' } = {},
): Promise<string> {
  const clientId = options.client ?? 'gateway-viewer';
  const found = await idp.provider.Client.find(clientId);
  if (!found) throw new Error(`the test clients file has no ${clientId}`);
  const now = Math.floor(Date.now() / 1000);
  const scope = options.scope ?? 'gateway:status';
  // The project's oidc-provider typings declare only AccessToken.find; the model is a class.
  const AccessToken = idp.provider.AccessToken as unknown as new (payload: Record<string, unknown>) => { save(): Promise<string> };
  const token = new AccessToken({
    accountId: sub,
    client: found,
    scope,
    resourceServer: {
      audience: options.audience ?? ADMIN_AUDIENCE,
      scope,
      ...(options.format === 'opaque' ? { accessTokenFormat: 'opaque' } : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
    ...(options.expiredSecondsAgo === undefined ? {} : { iat: now - options.expiredSecondsAgo - 600, exp: now - options.expiredSecondsAgo }),
  });
  return token.save();
}
