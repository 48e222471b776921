// The idp's Redis gate (../redis-gate.ts) refuses requests while Redis is known to be down, but
// Redis can die while a request is inside oidc-provider. oidc-provider then answers 500
// server_error (its error handlers), or koa's bare "Internal Server Error" when the failure
// escapes them (a session saved after the route ran, an error page that itself fails). Neither
// tells a client or a person to come back, and neither is a bug worth an error log: it is an
// outage, answered here as the gate answers it, 503 with Retry-After. The same holds for the
// idp's database when it stops answering within IDP_DATABASE_TIMEOUT_MS.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Logger } from '../../lib/logger.ts';
import { isStoreUnavailableError } from '../../lib/outage.ts';
import { RETRY_AFTER_SECONDS } from '../interactions/unavailable.ts';

const OUTAGE = Symbol('Redis or database outage during this request');

export interface OutageAnswerOptions {
  logger: Logger;
  /** Renders the 503 page for a browser; without one, browsers get the JSON answer too. */
  page?: (ctx: KoaContextWithOIDC) => Promise<void>;
}

async function answerOutage(ctx: KoaContextWithOIDC, page: OutageAnswerOptions['page']): Promise<void> {
  // Whatever oidc-provider had prepared (a redirect, a cookie for a session it could not save) is void.
  ctx.remove('location');
  ctx.remove('set-cookie');
  ctx.status = 503;
  ctx.set('retry-after', String(RETRY_AFTER_SECONDS));
  ctx.set('cache-control', 'no-store');
  if (page && ctx.accepts('json', 'html') === 'html') {
    await page(ctx);
    ctx.status = 503;
    return;
  }
  ctx.body = { error: 'temporarily_unavailable', error_description: 'try again in a moment' };
}

/**
 * Installs the outage answer as oidc-provider's outermost route middleware, and the one
 * `server_error` listener: a Redis or database outage is logged as a warning, anything else as the error it is.
 */
export function installOutageAnswers(provider: Provider, options: OutageAnswerOptions): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: Error) => {
    if (isStoreUnavailableError(error)) {
      ctx.state[OUTAGE] = true;
      return;
    }
    options.logger.error({ err: error }, 'oidc-provider server_error');
  });
  provider.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (ctx.headerSent || !isStoreUnavailableError(error)) throw error;
      ctx.state[OUTAGE] = true;
    }
    if (!ctx.state[OUTAGE] || ctx.headerSent) return;
    options.logger.warn({ route: ctx.oidc?.route, method: ctx.method }, 'Redis or the database unavailable during an oidc-provider request: answered 503');
    await answerOutage(ctx, options.page);
  });
}
