import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../lib/logger.ts';
import { PasswordWorkersBusyError } from '../lib/passwords/index.ts';
import { currentLogger } from '../lib/request-context.ts';
import { profileOf, type LegacyDirectory } from './directory/directory.ts';
import { LEGACY_WRITE_HASH, LegacyCannotWriteError } from './directory/password-writer.ts';
import { LegacyUnavailableError } from './directory/unavailable.ts';
import { prepareRow, type PlanContext } from './etl/prepare.ts';
import type { AdapterMetrics } from './metrics.ts';
import { wrapImportRecord } from '../lib/passwords/wrap-record.ts';

const login = z.string().trim().min(1, 'must not be empty').max(320, 'is too long');
const authenticateBody = z.strictObject({ login, password: z.string().max(4096, 'is too long') });
// withImport: each user also carries the batch migration's import record (legacy hash included),
// for the idp's password reset of a user it does not know yet.
const withImport = z.literal(true).optional();
const lookupBody = z.union([z.strictObject({ login, withImport }), z.strictObject({ email: login, withImport })]);
const passwordBody = z.strictObject({
  eventId: z.uuid(),
  sequence: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  legacyId: z.string().min(1).max(64),
  hash: z.string().regex(LEGACY_WRITE_HASH, 'must be a $2y$ bcrypt hash'),
});

function badRequest(res: Response, error: z.ZodError): void {
  // Issue messages name the field, never echo the value (it may be a password).
  const message = error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  res.status(400).json({ error: 'invalid_request', message });
}

/**
 * The internal API the idp calls (mounted under /internal/v1 behind the bearer secret). Answers
 * never carry a hash or a salt, but a lookup asking `withImport` (the import record is the batch
 * migration's, as the session resolve answers it); failures of authenticate are one generic `{ok:false}`.
 */
export function internalRoutes(directory: LegacyDirectory, metrics: AdapterMetrics, logger: Logger, plan: PlanContext & { wrapIterations: number }): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));

  const unavailable = (res: Response, error: unknown) => {
    currentLogger(logger).error({ err: error instanceof LegacyUnavailableError ? error.cause : error }, 'legacy database unavailable');
    res.status(503).set('retry-after', '5').json({ error: 'legacy_unavailable' });
  };

  router.post('/authenticate', async (req: Request, res: Response) => {
    const body = authenticateBody.safeParse(req.body);
    if (!body.success) return badRequest(res, body.error);
    try {
      const result = await directory.authenticate(body.data.login, body.data.password);
      if (!result.ok) return void res.json({ ok: false });
      res.json({ ok: true, user: result.user, scheme: result.scheme, fingerprint: result.fingerprint });
    } catch (error) {
      if (error instanceof PasswordWorkersBusyError) {
        // Not a wrong password: the caller says "try again", and nothing is counted against the user.
        metrics.authentications.inc({ result: 'busy', scheme: 'unknown' });
        currentLogger(logger).warn({ err: error }, 'password workers busy; login refused for now');
        return void res.status(503).set('retry-after', '1').json({ error: 'busy' });
      }
      if (!(error instanceof LegacyUnavailableError)) throw error;
      metrics.authentications.inc({ result: 'unavailable', scheme: 'unknown' });
      unavailable(res, error);
    }
  });

  router.post('/users/lookup', async (req: Request, res: Response) => {
    const body = lookupBody.safeParse(req.body);
    if (!body.success) return badRequest(res, body.error);
    const kind = 'email' in body.data ? 'email' : 'login';
    try {
      const rows = 'email' in body.data ? await directory.findByEmail(body.data.email) : [await directory.findForLogin(body.data.login)].filter((r) => r !== undefined);
      metrics.lookups.inc({ kind, result: rows.length ? 'found' : 'not_found' });
      if (!body.data.withImport) return void res.json({ users: rows.map(profileOf) });
      // A row the migration could not import (no login, unreadable hash) comes without a record.
      const users = await Promise.all(rows.map(async (row) => {
        const prepared = prepareRow(row, plan);
        if (!prepared.ok) return profileOf(row);
        const { active: _active, ...record } = prepared.row.user;
        return { ...profileOf(row), import: await wrapImportRecord(record, plan.wrapIterations) };
      }));
      res.json({ users });
    } catch (error) {
      if (!(error instanceof LegacyUnavailableError)) throw error;
      metrics.lookups.inc({ kind, result: 'unavailable' });
      unavailable(res, error);
    }
  });

  // Dual-write: the idp's relay hands over a password change. 200 for applied and for the
  // no-ops (replay, older than applied), so the relay settles the event either way.
  router.post('/users/password', async (req: Request, res: Response) => {
    const body = passwordBody.safeParse(req.body);
    if (!body.success) return badRequest(res, body.error);
    const log = currentLogger(logger);
    const context = { eventId: body.data.eventId, sequence: body.data.sequence, legacyId: body.data.legacyId };
    try {
      const outcome = await directory.writePassword(body.data);
      metrics.passwordWrites.inc({ result: outcome.result });
      if (outcome.result === 'not_found') {
        log.warn(context, 'password write refused: no legacy row with this id');
        // Its own code, not a bare 404: the relay gives the event up on this answer alone, never on
        // a 404 from a wrong URL or a proxy in between.
        return void res.status(404).json({ error: 'legacy_user_not_found' });
      }
      log.info({ ...context, result: outcome.result }, 'legacy password write');
      res.json({ ok: true, ...outcome });
    } catch (error) {
      if (error instanceof LegacyCannotWriteError) {
        metrics.passwordWrites.inc({ result: 'cannot_write' });
        log.error(context, 'password write refused: the legacy mapping has no write section');
        return void res.status(409).json({ error: 'mapping_cannot_write', message: 'the legacy mapping has no write section: add write.password to the mapping file' });
      }
      if (!(error instanceof LegacyUnavailableError)) throw error;
      metrics.passwordWrites.inc({ result: 'unavailable' });
      unavailable(res, error);
    }
  });

  router.use((error: unknown, _req: Request, res: Response, next: (error?: unknown) => void) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    if (status === 400 || status === 413 || status === 415) {
      // body-parser's messages can quote the body, which holds a password: answer in our own words.
      return void res.status(status).json({ error: 'invalid_request', message: status === 413 ? 'body too large' : 'body must be a JSON object' });
    }
    currentLogger(logger).error({ err: error }, 'internal API error');
    res.status(500).json({ error: 'internal_error' });
  });
  return router;
}
