import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import { pathUnder } from '../../contracts/endpoint.ts';
import { endSessionsEndpoint, IDP_INTERNAL_API_BASE, IDP_INTERNAL_ERRORS as ERRORS } from '../../contracts/idp-internal-api.ts';
import { hasBearerSecret } from '../../lib/bearer-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { Oidc } from '../oidc/index.ts';

/**
 * POST /internal/v1/users/:sub/sessions/end -> {grants, sessions}: an admin signs an account out
 * everywhere (a stolen device, a compromised account); every client signed in through the ended
 * sessions hears of it by back-channel logout. Guarded by IDP_ADMIN_TOKEN, not the internal
 * secret the gateway holds: the gateway has no business ending anyone's sessions.
 */
export function endSessionsRouter(endEverySession: Oidc['endEverySession'], secret: string, logger: Logger): express.Router {
  const router = express.Router();
  router.post(pathUnder(IDP_INTERNAL_API_BASE, endSessionsEndpoint.path), async (req: Request, res: Response, next: NextFunction) => {
    if (!hasBearerSecret(req, secret)) return void res.status(401).set('www-authenticate', 'Bearer').json({ error: ERRORS.unauthorized });
    const sub = String(req.params.sub);
    try {
      const ended = await endEverySession(sub);
      currentLogger(logger).info({ sub, grantsRevoked: ended.grants, sessionsEnded: ended.sessions }, 'admin: every session of the account ended');
      res.set('cache-control', 'no-store').json({ grants: ended.grants, sessions: ended.sessions } satisfies z.input<typeof endSessionsEndpoint.answer>);
    } catch (error) {
      currentLogger(logger).error({ err: error, sub }, 'admin: ending the sessions of an account failed');
      next(error);
    }
  });
  return router;
}
