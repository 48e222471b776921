import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { bearerToken, hasBearerSecret } from '../../lib/bearer-auth.ts';
import { isDatabaseUnavailableError } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentRequest } from '../../lib/request-context.ts';
import type { AuditLog } from '../audit/store.ts';
import type { AccessTokenClaims, AccessTokenVerifier } from '../api-auth/access-token.ts';
import type { LiveRoute } from '../dispatch.ts';
import { FlagStoreUnavailable, type Flipper } from '../flips.ts';
import { parseFlip, routeView } from './view.ts';
import { trafficOf, type TrafficSource } from '../traffic.ts';

const auditQuery = z.object({
  route: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().min(1).optional(),
});

function fail(res: Response, status: number, error: string, extra: Record<string, unknown> = {}) {
  res.status(status).json({ error, ...extra, request_id: currentRequest()?.requestId });
}

export interface AdminTokenPolicy {
  verifier: AccessTokenVerifier;
  audience: string;
  scope: string;
  logger: Logger;
}

/** Who a token-authenticated call is, for the audit log: the token says it, not the request body. */
export function tokenActor(claims: AccessTokenClaims): string {
  return claims.clientId === undefined || claims.clientId === claims.sub ? claims.sub : `${claims.sub} via ${claims.clientId}`;
}

/**
 * The admin JSON API under /admin/api. Every call carries `Authorization: Bearer` with either
 * GATEWAY_ADMIN_TOKEN or an idp access token for the admin audience with the admin scope.
 */
export function adminApi(deps: {
  token: string;
  accessTokens: AdminTokenPolicy;
  routes: Map<string, LiveRoute>;
  flip: Flipper;
  audit: AuditLog;
  traffic: TrafficSource;
}) {
  const router = express.Router();
  const { accessTokens } = deps;
  router.use(async (req, res, next) => {
    if (hasBearerSecret(req, deps.token)) return next();
    const token = bearerToken(req);
    const result = token === undefined ? undefined : await accessTokens.verifier.verify(token, accessTokens.audience);
    if (result?.ok) {
      if (result.claims.scopes.has(accessTokens.scope)) {
        res.locals.actor = tokenActor(result.claims);
        return next();
      }
      accessTokens.logger.warn({ sub: result.claims.sub, clientId: result.claims.clientId }, 'admin API: access token without the admin scope');
      res.setHeader('www-authenticate', `Bearer realm="gateway-admin", error="insufficient_scope", scope="${accessTokens.scope}"`);
      return fail(res, 403, 'insufficient_scope', { scope: accessTokens.scope });
    }
    if (result?.reason === 'unavailable') {
      accessTokens.logger.error({ detail: result.detail }, 'admin API: the idp keys could not be fetched to check an access token');
      return fail(res, 503, 'token_verification_unavailable');
    }
    // The reason goes to the log for ops; the caller gets no hint (and the token is never logged).
    if (result) accessTokens.logger.warn({ detail: result.detail }, 'admin API: access token refused');
    res.setHeader('www-authenticate', `Bearer realm="gateway-admin"${result ? ', error="invalid_token"' : ''}`);
    fail(res, 401, 'unauthorized');
  });
  router.use(express.json({ limit: '16kb' }));

  router.get('/routes', async (_req, res) => {
    const traffic = await deps.traffic();
    res.json({ routes: [...deps.routes.values()].map((route) => routeView(route, trafficOf(traffic, route.name))) });
  });
  router.get('/routes/:name', async (req, res) => {
    const route = deps.routes.get(String(req.params.name));
    if (!route) return fail(res, 404, 'unknown_route');
    res.json(routeView(route, trafficOf(await deps.traffic(), route.name)));
  });

  const flip = async (req: Request, res: Response) => {
    const name = String(req.params.name);
    if (!deps.routes.has(name)) return fail(res, 404, 'unknown_route');
    const parsed = parseFlip(req.body);
    if (!parsed.ok) return fail(res, 400, 'invalid_request', { problems: parsed.problems });
    try {
      const result = await deps.flip({
        route: name,
        to: parsed.to,
        reason: parsed.reason,
        actor: (res.locals.actor as string | undefined) ?? parsed.actor ?? 'admin-api',
        via: 'api',
      });
      if (!result.ok) return fail(res, result.problem === 'unknown_route' ? 404 : 409, result.problem);
      res.json({ route: result.route, from: result.from, to: result.to });
    } catch (error) {
      if (error instanceof FlagStoreUnavailable) return fail(res, 503, 'flag_store_unavailable');
      if (isDatabaseUnavailableError(error)) return fail(res, 503, 'audit_log_unavailable');
      return fail(res, 500, 'flip_failed');
    }
  };
  router.put('/routes/:name/flag', flip);
  router.post('/routes/:name/flip', flip);

  router.get('/audit', async (req, res) => {
    const query = auditQuery.safeParse(req.query);
    if (!query.success) return fail(res, 400, 'invalid_request', { problems: query.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    res.json({ entries: await deps.audit.list({ route: query.data.route, limit: query.data.limit, beforeId: query.data.before }) });
  });

  router.use((_req: Request, res: Response) => fail(res, 404, 'not_found'));
  // express.json's errors (bad JSON, too large) and anything unexpected: a clear status, no internals.
  router.use((error: { status?: number; type?: string }, _req: Request, res: Response, _next: express.NextFunction) => {
    if (error.type === 'entity.parse.failed') return fail(res, 400, 'invalid_json');
    if (error.status === 413) return fail(res, 413, 'body_too_large');
    fail(res, error.status && error.status < 500 ? error.status : 500, 'server_error');
  });
  return router;
}
