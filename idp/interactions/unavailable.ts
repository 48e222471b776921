// The idp's answer when something it depends on (Redis, the legacy-adapter) is down: 503 with
// Retry-After, so people and clients come back instead of concluding they did something wrong.
import type { Response } from 'express';
import { pageHeaders } from '../../lib/page-headers.ts';
import { messagePage } from './views.ts';

/** About the legacy-adapter's own Retry-After, and short enough for a person to wait. */
export const RETRY_AFTER_SECONDS = 5;

const SIGNING_IN_UNAVAILABLE = { title: 'Signing in is unavailable right now', message: 'Nothing was changed. Please try again in a moment.' };

/** `page`: what the page says, for a page that is about something other than signing in. */
export function sendUnavailablePage(res: Response, page: { title: string; message: string } = SIGNING_IN_UNAVAILABLE): void {
  res
    .status(503)
    .set('retry-after', String(RETRY_AFTER_SECONDS))
    .set(pageHeaders({ ownAssets: true }))
    .send(messagePage(page));
}

/** The same page, for oidc-provider's own routes (koa); the caller sets status and Retry-After. */
export function unavailablePageBody(): string {
  return messagePage(SIGNING_IN_UNAVAILABLE);
}
