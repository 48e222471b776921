// oidc-provider 9 ships no type declarations, so this declares the surface the idp uses: a
// misuse of it fails the type check instead of a request at run time. Extend it when you use
// more; keep it honest to lib/ in node_modules.
//
// Why not @types/oidc-provider (checked with 9.12.1, the latest, against oidc-provider 9.13.3,
// by type-checking idp/ with it in place of this file; 12 errors):
// - it declares no deep modules, and the key ring imports two of them
//   (oidc-provider/lib/helpers/initialize_keystore.js and weak_cache.js: idp/oidc/keys/key-ring.ts);
// - its Provider event map has no 'server_error' and the *.error events our metrics listen to
//   (idp/oidc/metrics.ts), and it exports no KoaMiddleware type (idp/oidc/spec-errors.ts);
// - its koa context is koa's own ParameterizedContext, whose state is not indexable by the
//   symbols idp/oidc/outage-answers.ts keeps there;
// - Configuration types clientDefaults.response_types as a closed union, refusing the
//   string[] built from clients.yaml (idp/oidc/provider.ts).
// Adopting it would mean casts at each of those places, which type-check nothing. Revisit when
// it catches up with 9.13 (or oidc-provider ships its own types).

declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse, RequestListener } from 'node:http';

  export type UnknownObject = Record<string, unknown>;

  /** The koa context oidc-provider passes to its hooks; only what we read is typed. */
  export interface KoaContextWithOIDC {
    method: string;
    path: string;
    status: number;
    body: unknown;
    type: string;
    ip: string;
    host: string;
    query: Record<string, string | string[] | undefined>;
    req: IncomingMessage;
    res: ServerResponse;
    get(header: string): string;
    set(header: string, value: string): void;
    remove(header: string): void;
    accepts(...types: string[]): string | false;
    /** Whether the response head has gone out (then nothing about it can change). */
    readonly headerSent: boolean;
    /** Per-request scratch space shared by middleware and event listeners. */
    state: Record<string | symbol, unknown>;
    oidc: OIDCContext;
  }

  export interface OIDCContext {
    route?: string;
    params?: Record<string, unknown>;
    client?: Client;
    session?: { accountId?: string; uid?: string };
    entities: Record<string, unknown>;
    issuer: string;
    provider: Provider;
    urlFor(name: string, options?: Record<string, string>): string;
  }

  export interface ClientMetadata extends UnknownObject {
    client_id: string;
    client_secret?: string;
    redirect_uris?: string[];
    post_logout_redirect_uris?: string[];
    grant_types?: string[];
    response_types?: string[];
    application_type?: 'web' | 'native';
    token_endpoint_auth_method?: string;
    scope?: string;
    client_name?: string;
    backchannel_logout_uri?: string;
    backchannel_logout_session_required?: boolean;
  }

  export interface Client {
    clientId: string;
    clientSecret?: string;
    clientName?: string;
    clientAuthMethod: string;
    applicationType: 'web' | 'native';
    redirectUris: string[];
    grantTypes: string[];
    responseTypes: string[];
    scope?: string;
    [extra: string]: unknown;
    metadata(): ClientMetadata;
    compareClientSecret(actual: string): boolean | Promise<boolean>;
    responseTypeAllowed(type: string): boolean;
  }

  export interface ClientStatic {
    prototype: Client;
    find(id: string): Promise<Client | undefined>;
    validate(metadata: ClientMetadata): Promise<void>;
    adapter: unknown;
  }

  export interface Grant {
    jti?: string;
    accountId?: string;
    clientId?: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(ttl?: number): Promise<string>;
  }

  export interface GrantStatic {
    new (properties: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown>;
    session?: { accountId: string; uid: string };
    grantId?: string;
    lastSubmission?: UnknownObject;
  }

  export interface InteractionResults {
    login?: { accountId: string; remember?: boolean; amr?: string[]; acr?: string };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
    [key: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string, claims: unknown, rejected: string[]): Promise<UnknownObject> | UnknownObject;
  }

  export type FindAccount = (ctx: KoaContextWithOIDC, sub: string, token?: unknown) => Promise<Account | undefined>;

  export type KoaMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

  export type Configuration = UnknownObject;

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    keys: string[];
    readonly Client: ClientStatic;
    readonly Grant: GrantStatic;
    readonly AccessToken: { find(value: string): Promise<UnknownObject | undefined> };
    readonly RefreshToken: { find(value: string, options?: { ignoreExpiration?: boolean }): Promise<UnknownObject | undefined> };
    readonly AuthorizationCode: { find(value: string): Promise<UnknownObject | undefined> };
    callback(): RequestListener;
    use(middleware: KoaMiddleware): void;
    on(event: string, listener: (...args: never[]) => void): this;
    emit(event: string, ...args: unknown[]): boolean;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: InteractionResults, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: InteractionResults, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  }

  export class OIDCProviderError extends Error {
    error: string;
    error_description?: string;
    status: number;
    statusCode: number;
    expose: boolean;
  }

  type DescribedError = new (description?: string, options?: unknown) => OIDCProviderError;

  export const errors: {
    OIDCProviderError: typeof OIDCProviderError;
    InvalidClientMetadata: new (description: string) => OIDCProviderError;
    InvalidRequest: new (description?: string, code?: number) => OIDCProviderError;
    InvalidScope: new (description: string, scope?: string) => OIDCProviderError;
    InvalidGrant: DescribedError;
    InvalidTarget: DescribedError;
    UnauthorizedClient: DescribedError;
    UnsupportedResponseType: DescribedError;
    AccessDenied: DescribedError;
  };

  export default Provider;
}

// Internal helpers the key rotation uses to swap the signing keys of a running Provider.
// oidc-provider has no public API for that (its keystore is fixed at construction); these two
// files are what it uses internally, and the key-rotation test proves the swap works.
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  const instance: (provider: object) => { jwks: { keys: Record<string, unknown>[] }; keystore: unknown } | undefined;
  export default instance;
}

declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  const initialize: (this: object, jwks: { keys: Record<string, unknown>[] }) => void;
  export default initialize;
}
