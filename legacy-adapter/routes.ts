import express, { type Request, type Response } from 'express';
import type { z } from 'zod';
import {
  authenticateEndpoint,
  LEGACY_ADAPTER_API_BASE,
  LEGACY_ADAPTER_ERRORS as ERRORS,
  lookupEndpoint,
  passwordWriteEndpoint,
} from '../contracts/legacy-adapter-api.ts';
import { pathUnder } from '../contracts/endpoint.ts';
import { describeIssues, type InternalErrorBody } from '../contracts/internal-error.ts';
import type { Logger } from '../lib/logger.ts';
import { PasswordWorkersBusyError } from '../lib/passwords/index.ts';
import { currentLogger } from '../lib/request-context.ts';
import { profileOf, type LegacyDirectory } from './directory/directory.ts';
import { LegacyCannotWriteError } from './directory/password-writer.ts';
import { LegacyUnavailableError } from './directory/unavailable.ts';
import { prepareRow, type PlanContext } from './etl/prepare.ts';
import type { AdapterMetrics } from './metrics.ts';
import { wrapImportRecord } from '../lib/passwords/wrap-record.ts';

const route = (path: string) => pathUnder(LEGACY_ADAPTER_API_BASE, path);
const fail = (res: Response, status: number, body: InternalErrorBody) => void res.status(status).json(body);

function badRequest(res: Response, error: z.ZodError): void {
  // Issue messages name the field, never echo the value (it may be a password).
  fail(res, 400, { error: ERRORS.invalidRequest, error_description: describeIssues(error) });
}

/**
 * The internal API the idp calls (mounted under /internal/v1 behind the bearer secret). Answers
 * never carry a hash or a salt, but a lookup asking `withImport` (the import record is the batch
 * migration's, as the session resolve answers it); failures of authenticate are one generic `{ok:false}`.
 */
export function internalRoutes(
  directory: LegacyDirectory,
  metrics: AdapterMetrics,
  logger: Logger,
  plan: PlanContext & { wrapIterations: number },
): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));

  const unavailable = (res: Response, error: unknown) => {
    currentLogger(logger).error({ err: error instanceof LegacyUnavailableError ? error.cause : error }, 'legacy database unavailable');
    res.set('retry-after', '5');
    fail(res, 503, { error: ERRORS.legacyUnavailable, error_description: 'the legacy database did not answer in time' });
  };

  router.post(route(authenticateEndpoint.path), async (req: Request, res: Response) => {
    const body = authenticateEndpoint.request.safeParse(req.body);
    if (!body.success) return badRequest(res, body.error);
    try {
      const result = await directory.authenticate(body.data.login, body.data.password);
      const answer: z.input<typeof authenticateEndpoint.answer> = result.ok
        ? { ok: true, user: result.user, scheme: result.scheme, fingerprint: result.fingerprint }
        : { ok: false };
      res.json(answer);
    } catch (error) {
      if (error instanceof PasswordWorkersBusyError) {
        // Not a wrong password: the caller says "try again", and nothing is counted against the user.
        metrics.authentications.inc({ result: 'busy', scheme: 'unknown' });
        currentLogger(logger).warn({ err: error }, 'password workers busy; login refused for now');
        res.set('retry-after', '1');
        return fail(res, 503, { error: ERRORS.busy, error_description: 'every password hashing thread is busy: try again' });
      }
      if (!(error instanceof LegacyUnavailableError)) throw error;
      metrics.authentications.inc({ result: 'unavailable', scheme: 'unknown' });
      unavailable(res, error);
    }
  });

  router.post(route(lookupEndpoint.path), async (req: Request, res: Response) => {
    const body = lookupEndpoint.request.safeParse(req.body);
    if (!body.success) return badRequest(res, body.error);
    const kind = 'email' in body.data ? 'email' : 'login';
    try {
      const rows =
        'email' in body.data ? await directory.findByEmail(body.data.email) : [await directory.findForLogin(body.data.login)].filter((r) => r !== undefined);
      metrics.lookups.inc({ kind, result: rows.length ? 'found' : 'not_found' });
      if (!body.data.withImport) return void res.json({ users: rows.map(profileOf) } satisfies z.input<typeof lookupEndpoint.answer>);
      // A row the migration could not import (no login, unreadable hash) comes without a record.
      const users = await Promise.all(
        rows.map(async (row) => {
          const prepared = prepareRow(row, plan);
          if (!prepared.ok) return profileOf(row);
          const { active: _active, ...record } = prepared.row.user;
          return { ...profileOf(row), import: await wrapImportRecord(record, plan.wrapIterations) };
        }),
      );
      // The record is typed by the migration's plan (legacy-adapter/etl/), which writes every field the contract's import record requires.
      res.json({ users });
    } catch (error) {
      if (!(error instanceof LegacyUnavailableError)) throw error;
      metrics.lookups.inc({ kind, result: 'unavailable' });
      unavailable(res, error);
    }
  });

  // Dual-write: the idp's relay hands over a password change. 200 for applied and for the
  // no-ops (replay, older than applied), so the relay settles the event either way.
  router.post(route(passwordWriteEndpoint.path), async (req: Request, res: Response) => {
    const body = passwordWriteEndpoint.request.safeParse(req.body);
    if (!body.success) return badRequest(res, body.error);
    const log = currentLogger(logger);
    const context = { eventId: body.data.eventId, sequence: body.data.sequence, legacyId: body.data.legacyId };
    try {
      const outcome = await directory.writePassword(body.data);
      if (!outcome.ok) {
        metrics.passwordWrites.inc({ result: 'not_found' });
        log.warn(context, 'password write refused: no legacy row with this id');
        // Its own code, not a bare 404: the relay gives the event up on this answer alone, never on
        // a 404 from a wrong URL or a proxy in between.
        return fail(res, 404, { error: outcome.reason, error_description: 'no legacy row with this id' });
      }
      metrics.passwordWrites.inc({ result: outcome.outcome });
      log.info({ ...context, result: outcome.outcome }, 'legacy password write');
      const answer: z.input<typeof passwordWriteEndpoint.answer> =
        outcome.outcome === 'applied' ? { ok: true, result: 'applied', fingerprint: outcome.fingerprint } : { ok: true, result: outcome.outcome };
      res.json(answer);
    } catch (error) {
      if (error instanceof LegacyCannotWriteError) {
        metrics.passwordWrites.inc({ result: 'cannot_write' });
        log.error(context, 'password write refused: the legacy mapping has no write section');
        return fail(res, 409, {
          error: ERRORS.mappingCannotWrite,
          error_description: 'the legacy mapping has no write section: add write.password to the mapping file',
        });
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
      return fail(res, status, { error: ERRORS.invalidRequest, error_description: status === 413 ? 'body too large' : 'body must be a JSON object' });
    }
    currentLogger(logger).error({ err: error }, 'internal API error');
    fail(res, 500, { error: ERRORS.internalError });
  });
  return router;
}
