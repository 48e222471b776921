import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import { pathUnder } from '../../contracts/endpoint.ts';
import type { InternalErrorBody } from '../../contracts/internal-error.ts';
import { IDP_INTERNAL_API_BASE, IDP_INTERNAL_ERRORS as ERRORS, loginCheckEndpoint } from '../../contracts/idp-internal-api.ts';
import { hasBearerSecret } from '../../lib/bearer-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { LoginService } from './types.ts';

const fail = (res: Response, status: number, body: InternalErrorBody) => void res.status(status).json(body);

/**
 * POST /internal/v1/login-check {login, password} -> {ok} (503 when the legacy-adapter is down or the password workers are busy): the gateway's shadow mode asks
 * whether the new stack would have accepted a login the monolith just served. A dry run:
 * nothing is upgraded, imported or written. Guarded by IDP_INTERNAL_SECRET.
 */
export function loginCheckRouter(login: LoginService, secret: string, logger: Logger): express.Router {
  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, secret)) return next();
    res.set('www-authenticate', 'Bearer');
    fail(res, 401, { error: ERRORS.unauthorized });
  });
  router.post(pathUnder(IDP_INTERNAL_API_BASE, loginCheckEndpoint.path), express.json({ limit: '16kb' }), async (req: Request, res: Response) => {
    const parsed = loginCheckEndpoint.request.safeParse(req.body);
    if (!parsed.success) {
      return fail(res, 400, { error: ERRORS.invalidRequest, error_description: 'body must be {"login": string, "password": string}' });
    }
    const outcome = await login.login(parsed.data.login, parsed.data.password, { dryRun: true });
    // No decision to compare: the shadow check counts an error, never a disagreement.
    if (!outcome.ok && outcome.unavailable) {
      res.set('retry-after', '5');
      return fail(res, 503, {
        error: ERRORS.temporarilyUnavailable,
        error_description: 'the legacy-adapter or the password workers could not decide: try again',
      });
    }
    res.json({ ok: outcome.ok } satisfies z.input<typeof loginCheckEndpoint.answer>);
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    // body-parser's messages may quote the body, which holds a password.
    if (status === 400 || status === 413 || status === 415) return fail(res, status, { error: ERRORS.invalidRequest });
    currentLogger(logger).error({ err: error }, 'login-check failed');
    fail(res, 500, { error: ERRORS.internalError });
  });
  return router;
}
