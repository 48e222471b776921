import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { RouteAction } from './routes/file.ts';
import { redirect } from './signin/http.ts';
import { safeReturnTo } from './signin/return-to.ts';

type SigninAction = Extract<RouteAction, { type: 'signin' }>;

/**
 * Where a flipped login page sends the browser: the relying party's /auth/login, returning to
 * what the page's own parameter names when the return-to rules accept it, else the landing page.
 * Only a path on this site is taken: a relative name or a URL, even our own, lands on `landing`.
 */
export function signinLocation(url: string, action: SigninAction, origin: string): string {
  const asked = action.returnParam === undefined ? null : new URL(url, origin).searchParams.get(action.returnParam);
  const returnTo = (asked?.startsWith('/') ? safeReturnTo(asked, origin) : undefined) ?? action.landing;
  return `/auth/login?return_to=${encodeURIComponent(returnTo)}`;
}

export interface ActionOptions {
  /** The site's public origin, the one return_to must stay on (the relying party's). */
  publicUrl: string;
  /** The session bridge's logout (gateway/signin/handler.ts): GET asks, a same-site POST ends both sessions. */
  signout: RequestListener;
}

/**
 * Runs a route's action for a request whose side is the new one. The legacy page's form may
 * still be posted (a page loaded before the flip): 303 turns that into a GET of the sign-in,
 * and the credentials it carried are never read.
 */
export type ActionRunner = (action: RouteAction, req: IncomingMessage, res: ServerResponse) => void;

export function createActionRunner(options: ActionOptions): ActionRunner {
  const origin = new URL(options.publicUrl).origin;
  return function run(action: RouteAction, req: IncomingMessage, res: ServerResponse): void {
    if (action.type === 'signout') return void options.signout(req, res);
    const method = req.method ?? 'GET';
    redirect(res, signinLocation(req.url ?? '/', action, origin), [], method === 'GET' || method === 'HEAD' ? 302 : 303);
  };
}
