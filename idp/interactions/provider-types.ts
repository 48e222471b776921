// The parts of oidc-provider the interaction pages use. oidc-provider ships no type
// declarations, so these are typed here, at the edge, structurally: any Provider instance fits.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface InteractionPrompt {
  name: string;
  reasons: string[];
  details: {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
    [key: string]: unknown;
  };
}

export interface InteractionDetails {
  uid: string;
  prompt: InteractionPrompt;
  params: Record<string, unknown>;
  session?: { accountId?: string; uid?: string; amr?: string[] };
  grantId?: string;
}

export interface InteractionResult {
  login?: { accountId: string; amr?: string[]; remember?: boolean };
  consent?: { grantId?: string };
  error?: string;
  error_description?: string;
}

export interface ClientLike {
  clientId: string;
  clientName?: string;
  scope?: string;
  /** Declared in the clients file: the organisation's own application, which gets no consent page. */
  first_party?: boolean;
}

export interface GrantLike {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

export interface InteractionProvider {
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: InteractionResult, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Client: { find(id: string): Promise<ClientLike | undefined> };
  Grant: (new (properties: { accountId: string; clientId: string; expiresIn?: number }) => GrantLike) & { find(id: string): Promise<GrantLike | undefined> };
}

/** The koa context oidc-provider hands renderError, logoutSource and postLogoutSuccessSource. */
export interface ProviderPageContext {
  host: string;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
  oidc?: {
    client?: ClientLike;
    params?: Record<string, unknown>;
  };
}
