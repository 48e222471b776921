// A real oidc-provider with the idp's interaction module mounted, for the page tests (and for
// the browser tests where they do not drive the full idp). Only the user list is a test
// double: a real class over an in-memory list, behind the same LoginService seam.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { mountInteractions, logoutSource, postLogoutSuccessSource, renderError, type InteractionProvider } from '../../idp/interactions/index.ts';
import type { IdpUser, LoginOptions, LoginOutcome, LoginService, UserDirectory } from '../../idp/login/types.ts';
import { createOidcAdapter } from '../../idp/oidc/adapters/index.ts';
import type { LoginThrottle } from '../../idp/throttle/index.ts';

type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => InteractionProvider & {
  callback(): express.RequestHandler;
  proxy: boolean;
  on(event: string, listener: (...args: unknown[]) => void): void;
};
// oidc-provider ships no type declarations; a non-literal specifier keeps tsc from demanding them.
const oidcProviderModule: string = 'oidc-provider';
const { Provider } = (await import(oidcProviderModule)) as { Provider: ProviderConstructor };

export class InMemoryUsers implements LoginService, UserDirectory {
  readonly calls: string[] = [];
  readonly #accounts: { user: IdpUser; password: string }[] = [];

  add(username: string, password: string, name = username): IdpUser {
    const user: IdpUser = {
      id: `u-${randomBytes(4).toString('hex')}`,
      username,
      email: `${username}@example.test`,
      emailVerified: true,
      name,
      active: true,
      updatedAt: new Date(),
    };
    this.#accounts.push({ user, password });
    return user;
  }

  async login(identifier: string, password: string, options: LoginOptions = {}): Promise<LoginOutcome> {
    this.calls.push(identifier);
    const wanted = identifier.trim().toLowerCase();
    const found = this.#accounts.find((a) => a.user.username === wanted || a.user.email === wanted);
    const digest = (s: string) => createHash('sha256').update(s).digest();
    const matches = timingSafeEqual(digest(found?.password ?? randomBytes(16).toString('hex')), digest(password));
    // The account the identifier named, right password or wrong, as the real login service tells it.
    if (found) options.onAccount?.(`idp:${found.user.id}`);
    return found && matches && found.user.active ? { ok: true, user: found.user } : { ok: false };
  }

  async findById(id: string): Promise<IdpUser | undefined> {
    return this.#accounts.find((a) => a.user.id === id)?.user;
  }
}

export interface TestClient {
  client_id: string;
  client_name?: string;
  redirect_uris: string[];
  response_types?: string[];
  grant_types?: string[];
  token_endpoint_auth_method?: string;
  scope?: string;
  post_logout_redirect_uris?: string[];
  first_party?: boolean;
}

export const WEB_CLIENT: TestClient = {
  client_id: 'web-app',
  client_name: 'Example Web App',
  redirect_uris: ['https://app.example.test/callback'],
  post_logout_redirect_uris: ['https://app.example.test/bye'],
  token_endpoint_auth_method: 'none',
  scope: 'openid profile email offline_access',
};

export interface PageHarness {
  issuer: string;
  users: InMemoryUsers;
  registry: Registry;
  close(): Promise<void>;
}

export async function startPageHarness(options: {
  throttle: LoginThrottle;
  clients?: TestClient[];
  forgotPasswordUrl?: string;
  host?: string;
  extraConfiguration?: Record<string, unknown>;
  configureApp?: (app: express.Express) => void;
}): Promise<PageHarness> {
  const users = new InMemoryUsers();
  const registry = new Registry();
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  options.configureApp?.(app);
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    adapter: createOidcAdapter(),
    clients: options.clients ?? [WEB_CLIENT],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
    findAccount: async (_ctx: unknown, sub: string) => {
      const user = await users.findById(sub);
      if (!user) return undefined;
      return { accountId: sub, claims: async () => ({ sub, name: user.name, preferred_username: user.username, email: user.email, email_verified: user.emailVerified }) };
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    renderError,
    ...options.extraConfiguration,
  });
  provider.proxy = true;
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error:', error));

  mountInteractions(app, provider, {
    login: users,
    users,
    throttle: options.throttle,
    logger: pino({ level: 'silent' }),
    csrfSecret: randomBytes(32).toString('base64url'),
    metrics: { registry },
    forgotPasswordUrl: options.forgotPasswordUrl,
  });
  app.use(provider.callback());

  return {
    issuer,
    users,
    registry,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
