import express, { type NextFunction, type Request, type Response } from 'express';
import { IDP_IMPORT_USERS_PATH, IdpImportError, importUsersRequestSchema, type ImportUsersAnswer } from '../../contracts/idp-import.ts';
import type { Knex } from '../../lib/db.ts';
import { hasBearerSecret } from '../../lib/bearer-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { checkWrapIterations } from '../../lib/passwords/index.ts';
import { currentLogger } from '../../lib/request-context.ts';
import { describeDatabaseError } from '../../lib/safe-error.ts';
import { importUsers } from './apply.ts';

// Mounted under /internal/v1: the contract's path without that prefix.
const ROUTE = IDP_IMPORT_USERS_PATH.replace(/^\/internal\/v1/, '');

/**
 * POST /internal/v1/import/users (contracts/idp-import.ts): the bulk-import port the batch
 * migration writes the idp's users through. Guarded by IDP_INTERNAL_SECRET, like the idp's other
 * internal endpoints. A batch of 10,000 users is a few MB of JSON; the body limit allows that.
 */
export function importRouter(knex: Knex, secret: string, logger: Logger): express.Router {
  const router = express.Router();
  router.post(ROUTE, (req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, secret)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({ error: IdpImportError.unauthorized, error_description: 'IDP_INTERNAL_SECRET expected as the bearer token' });
  });
  router.post(ROUTE, express.json({ limit: '32mb' }), async (req: Request, res: Response, next: NextFunction) => {
    const parsed = importUsersRequestSchema.safeParse(req.body);
    if (!parsed.success) {
      // The issue paths only (never the values: they hold hashes).
      const where = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; ');
      return void res.status(400).json({ error: IdpImportError.invalidRequest, error_description: where });
    }
    const { users, dryRun, wrapIterations, receipt } = parsed.data;
    if (wrapIterations !== 0) {
      try {
        checkWrapIterations(wrapIterations);
      } catch (error) {
        return void res.status(400).json({ error: IdpImportError.invalidRequest, error_description: `wrapIterations: ${(error as Error).message}` });
      }
    }
    try {
      const outcome = await importUsers(knex, users, { dryRun, wrapIterations, ...(receipt ? { receipt } : {}) });
      const answer: ImportUsersAnswer = outcome;
      res.set('cache-control', 'no-store').json(answer);
    } catch (error) {
      next(error);
    }
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    // body-parser's messages may quote the body, which holds hashes.
    if (status === 400 || status === 413 || status === 415)
      return void res.status(status).json({ error: IdpImportError.invalidRequest, error_description: status === 413 ? 'body too large' : 'body must be JSON' });
    // knex puts the statement with its values (hashes) into its messages: only the driver's part is logged.
    currentLogger(logger).error({ problem: describeDatabaseError(error) }, 'bulk import failed');
    res.status(500).json({ error: IdpImportError.serverError, error_description: 'the import failed (see the idp log); the batch can be sent again' });
  });
  return router;
}
