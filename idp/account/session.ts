// The oidc-provider session behind an express request, read the way the provider reads it
// (its signed session cookie), so the account pages know who is signed in without a login of
// their own. oidc-provider ships no type declarations for Session: the shapes used are typed
// here, at the edge.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';

export interface SignedInSession {
  /** The session id (the session cookie's value); it changes at every sign-in. */
  id: string;
  accountId: string;
  /** The grants this browser holds, one per client it signed in to. */
  grantIds: string[];
}

interface ProviderSession {
  jti: string;
  accountId?: string;
  exp?: number;
  authorizations?: Record<string, { grantId?: string }>;
}

interface SessionModel {
  get(ctx: { req: IncomingMessage; res: ServerResponse; secure: boolean }): Promise<ProviderSession>;
}

/** The signed-in session of this request, or undefined (no cookie, expired, signed out). */
export async function signedInSession(
  provider: Provider,
  req: IncomingMessage & { secure: boolean },
  res: ServerResponse,
): Promise<SignedInSession | undefined> {
  const Session = (provider as unknown as { Session: SessionModel }).Session;
  // Without ctx.oidc, Session.get builds the provider's own context from req/res: the same
  // cookie name, keys and verification as every provider endpoint.
  const session = await Session.get({ req, res, secure: req.secure });
  if (!session.accountId || typeof session.exp !== 'number') return undefined;
  const grantIds = Object.values(session.authorizations ?? {})
    .map((a) => a.grantId)
    .filter((id): id is string => typeof id === 'string' && id !== '');
  return {
    id: session.jti,
    accountId: session.accountId,
    grantIds,
  };
}
