import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import { pathUnder } from '../../contracts/endpoint.ts';
import { IDP_INTERNAL_API_BASE, IDP_INTERNAL_ERRORS as ERRORS, legacyIdentityEndpoint } from '../../contracts/idp-internal-api.ts';
import { hasBearerSecret } from '../../lib/bearer-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { UserStore } from '../users/types.ts';

/**
 * GET /internal/v1/users/:sub/legacy-identity -> {legacyId}: which legacy account an idp user
 * (an ID token's `sub`) is, for the gateway's session bridge, which then logs that account in on
 * the monolith. 404 for an unknown or inactive user, or one with no legacy account. Guarded by
 * IDP_INTERNAL_SECRET: the legacy id never travels in a token a browser holds.
 */
export function legacyIdentityRouter(users: Pick<UserStore, 'findById'>, secret: string, logger: Logger): express.Router {
  const router = express.Router();
  router.get(pathUnder(IDP_INTERNAL_API_BASE, legacyIdentityEndpoint.path), async (req: Request, res: Response, next: NextFunction) => {
    if (!hasBearerSecret(req, secret)) return void res.status(401).set('www-authenticate', 'Bearer').json({ error: ERRORS.unauthorized });
    try {
      const user = await users.findById(String(req.params.sub));
      if (!user || !user.active || !user.legacyId)
        return void res.status(404).json({ error: ERRORS.notFound, error_description: 'no active user with a legacy account by this subject' });
      res.set('cache-control', 'no-store').json({ legacyId: user.legacyId } satisfies z.input<typeof legacyIdentityEndpoint.answer>);
    } catch (error) {
      currentLogger(logger).error({ err: error }, 'legacy identity look-up failed');
      next(error);
    }
  });
  return router;
}
