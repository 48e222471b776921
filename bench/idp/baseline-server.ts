// The baseline of `npm run bench:idp`: oidc-provider with its default in-memory adapter and the
// same grants, clients, resource (JWT access tokens), TTLs and key type as the idp, and nothing
// else (no database, no Redis, no hashed secrets, no account index, no metrics).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import Provider from 'oidc-provider';
import { testInteractions } from '../../scripts/support/interactions.ts';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const audience = process.env.BENCH_AUDIENCE!;
const jwk = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'baseline' };
const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: JSON.parse(process.env.BENCH_CLIENTS!),
  scopes: ['openid', 'offline_access', 'orders:read'],
  rotateRefreshToken: true,
  cookies: { keys: ['baseline-cookie-key-0123456789abcdef'] },
  findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
  ttl: {
    AccessToken: 600,
    ClientCredentials: 600,
    IdToken: 3600,
    RefreshToken: 1_209_600,
    Grant: 1_209_600,
    Session: 1_209_600,
    Interaction: 3600,
    AuthorizationCode: 60,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx: { oidc: { params?: { scope?: unknown } } }, _c: unknown, oneOf?: string[]) =>
        oneOf ? oneOf[0] : String(ctx.oidc.params?.scope ?? '').includes('orders:read') ? audience : undefined,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({ scope: 'orders:read', audience, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
});
const app = express();
testInteractions(async (username) => ({ ok: true, user: { id: username } }))(app, provider);
app.use(provider.callback());
createServer(app).listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
process.once('SIGTERM', () => process.exit(0));
