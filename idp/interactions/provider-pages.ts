// Pages oidc-provider renders itself (configuration hooks), in the same look and under the
// same headers as ours. Plug in as `renderError` and `features.rpInitiatedLogout.logoutSource`
// / `postLogoutSuccessSource`.
import { raw } from '../../lib/html.ts';
import type { ProviderPageContext } from './provider-types.ts';
import { pageHeaders } from '../../lib/page-headers.ts';
import { unavailablePageBody } from './unavailable.ts';
import { logoutPage, messagePage } from './views.ts';

function respond(ctx: ProviderPageContext, body: string, formTargets: (string | undefined)[] = []): void {
  for (const [name, value] of Object.entries(pageHeaders({ formTargets, ownAssets: true }))) ctx.set(name, value);
  ctx.body = body;
}

// What each error means to the person looking at the page. The error code stays visible for
// whoever they ask for help; internals (stacks, messages of unexpected errors) never show.
const FRIENDLY: Record<string, string> = {
  invalid_request: 'The application sent a sign-in request we cannot accept.',
  invalid_client: 'The application that sent you here is not known to us.',
  invalid_redirect_uri: 'The application asked to send you back to an address it has not registered.',
  unauthorized_client: 'The application is not allowed to sign you in this way.',
  unsupported_response_type: 'The application asked for a kind of sign-in we do not offer.',
  invalid_scope: 'The application asked for permissions it is not allowed to have.',
  access_denied: 'The request was denied.',
  login_required: 'You need to sign in again.',
  temporarily_unavailable: 'Signing in is unavailable right now. Please try again in a moment.',
};

export interface ErrorOut {
  error?: string;
  error_description?: string;
}

export function errorPageBody(out: ErrorOut): string {
  const code = typeof out.error === 'string' && /^[a-z_]{1,64}$/.test(out.error) ? out.error : 'server_error';
  const isServerError = code === 'server_error';
  const message = isServerError
    ? 'Something went wrong on our side. Please try again later.'
    : (FRIENDLY[code] ?? 'The sign-in request could not be completed.');
  // oidc-provider writes its own descriptions for request errors (never from a stack); for
  // server errors it has nothing useful to say to a person.
  const description = !isServerError && typeof out.error_description === 'string' ? ` (${out.error_description.slice(0, 300)})` : '';
  return messagePage({
    title: 'Sign-in could not continue',
    message: `${message} Go back to the application and try again.`,
    detail: `Error code: ${code}${description}`,
  });
}

export async function renderError(ctx: ProviderPageContext, out: ErrorOut, _error?: unknown): Promise<void> {
  respond(ctx, errorPageBody(out));
}

export async function logoutSource(ctx: ProviderPageContext, form: string): Promise<void> {
  const postLogout = ctx.oidc?.params?.post_logout_redirect_uri;
  respond(ctx, logoutPage({ form: raw(form), host: ctx.host, clientName: ctx.oidc?.client?.clientName ?? ctx.oidc?.client?.clientId }), [
    typeof postLogout === 'string' ? postLogout : undefined,
  ]);
}

export async function postLogoutSuccessSource(ctx: ProviderPageContext): Promise<void> {
  respond(ctx, messagePage({ title: 'You have signed out', message: 'You can close this window, or go back to the application.' }));
}

export async function unavailable(ctx: ProviderPageContext): Promise<void> {
  respond(ctx, unavailablePageBody());
}
