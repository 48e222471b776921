import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { hasBearerSecret } from '../../lib/bearer-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { LoginService } from './types.ts';

const body = z.strictObject({ login: z.string().max(320), password: z.string().max(4096) });

/**
 * POST /internal/v1/login-check {login, password} -> {ok} (503 when the legacy-adapter is down or the password workers are busy): the gateway's shadow mode asks
 * whether the new stack would have accepted a login the monolith just served. A dry run:
 * nothing is upgraded, imported or written. Guarded by IDP_INTERNAL_SECRET.
 */
export function loginCheckRouter(login: LoginService, secret: string, logger: Logger): express.Router {
  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, secret)) return next();
    res.status(401).set('www-authenticate', 'Bearer').json({ error: 'unauthorized' });
  });
  router.post('/login-check', express.json({ limit: '16kb' }), async (req: Request, res: Response) => {
    const parsed = body.safeParse(req.body);
    if (!parsed.success) {
      return void res.status(400).json({ error: 'invalid_request', message: 'body must be {"login": string, "password": string}' });
    }
    const outcome = await login.login(parsed.data.login, parsed.data.password, { dryRun: true });
    // No decision to compare: the shadow check counts an error, never a disagreement.
    if (!outcome.ok && outcome.unavailable) return void res.status(503).set('retry-after', '5').json({ error: 'temporarily_unavailable' });
    res.json({ ok: outcome.ok });
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    // body-parser's messages may quote the body, which holds a password.
    if (status === 400 || status === 413 || status === 415) return void res.status(status).json({ error: 'invalid_request' });
    currentLogger(logger).error({ err: error }, 'login-check failed');
    res.status(500).json({ error: 'internal_error' });
  });
  return router;
}
