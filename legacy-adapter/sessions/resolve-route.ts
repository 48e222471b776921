import express, { type NextFunction, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { z } from 'zod';
import { pathUnder } from '../../contracts/endpoint.ts';
import type { InternalErrorBody } from '../../contracts/internal-error.ts';
import { LEGACY_ADAPTER_API_BASE, LEGACY_ADAPTER_ERRORS as ERRORS, sessionResolveEndpoint } from '../../contracts/legacy-adapter-api.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import { prepareRow } from '../etl/prepare.ts';
import { profileOf } from '../directory/directory.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { loggedInAs } from './php-session.ts';
import { findSessionRow, lookupColumn } from './session-user.ts';
import { isPhpSessionId } from './session-id.ts';
import type { LegacySessionStore } from './legacy-session-store.ts';
import { wrapImportRecord } from '../../lib/passwords/wrap-record.ts';
import { LEGACY_SESSION_COOKIE_PATH, type LegacySessionCookie, type LegacySessionCookieAnswer } from '../../contracts/legacy-session-cookie.ts';

/** Where the router is mounted, under the adapter's internal API (its own body limit and error handler). */
export const SESSION_RESOLVE_MOUNT = '/legacy-sessions';
const route = pathUnder(`${LEGACY_ADAPTER_API_BASE}${SESSION_RESOLVE_MOUNT}`, sessionResolveEndpoint.path);
const fail = (res: Response, status: number, body: InternalErrorBody) => void res.status(status).json(body);

export interface SessionResolveDeps {
  store: LegacySessionStore;
  legacyDb: Knex;
  mapping: LegacyMapping;
  fingerprintKey: string;
  /** LEGACY_DATABASE_TIMEOUT_MS: each statement's deadline (the store has its own, the same). */
  timeoutMs: number;
  /** LEGACY_WRAP_ITERATIONS: the import record's weak hash is wrapped as the batch migration wraps it. */
  wrapIterations: number;
  registry: Registry;
  logger: Logger;
  /** The monolith's session cookie (the mapping's session.cookie with the overrides): the idp reads the PHP session by its name. */
  cookie: LegacySessionCookie;
}

/**
 * POST /legacy-sessions/resolve {sessionId} (under the idp's bearer secret, LEGACY_ADAPTER_SECRET):
 * which legacy user a PHP session is logged in as, by the monolith's own rules (alive in the
 * store, the mapping's `loggedInAs` keys set, the user they name exists and is active) -> {ok:true, user, import}, else
 * {ok:false} (one answer for every reason). `import` is the user as the batch migration would
 * import them (prepareRow), legacy hash included, so the idp can create them without a password
 * and they keep that password. 503 {error:"legacy_unavailable"} when the store or database fails.
 * GET /legacy-sessions/cookie -> {cookie}: the monolith's session cookie (contracts/legacy-session-cookie.ts).
 */
export function sessionResolveRouter(deps: SessionResolveDeps): express.Router {
  const counter = new Counter({
    name: 'legacy_adapter_session_resolutions_total',
    help: 'PHP sessions the idp asked about, by result (valid, invalid: malformed id, no live session, not logged in, unknown or inactive user, or unimportable row; unavailable)',
    labelNames: ['result'] as const,
    registers: [deps.registry],
  });
  const router = express.Router();
  router.use(express.json({ limit: '2kb' }));

  // contracts/legacy-session-cookie.ts: one mapping file names the cookie for every service.
  router.get(pathUnder(`${LEGACY_ADAPTER_API_BASE}${SESSION_RESOLVE_MOUNT}`, LEGACY_SESSION_COOKIE_PATH), (_req: Request, res: Response) => {
    const answer: LegacySessionCookieAnswer = { cookie: deps.cookie };
    res.json(answer);
  });

  router.post(route, async (req: Request, res: Response) => {
    res.set('cache-control', 'no-store');
    const parsed = sessionResolveEndpoint.request.safeParse(req.body);
    if (!parsed.success) return fail(res, 400, { error: ERRORS.invalidRequest, error_description: 'body must be {"sessionId": string}' });
    const invalid = () => {
      counter.inc({ result: 'invalid' });
      res.json({ ok: false } satisfies z.input<typeof sessionResolveEndpoint.answer>);
    };
    // The format first: nothing that is not a PHP session id reaches the store.
    if (!isPhpSessionId(parsed.data.sessionId)) return invalid();
    const log = currentLogger(deps.logger);
    let row;
    try {
      const data = await deps.store.read(parsed.data.sessionId);
      const who = data ? loggedInAs(data, deps.mapping.session) : undefined;
      if (who === undefined) return invalid();
      row = (await findSessionRow(deps.legacyDb, deps.mapping, lookupColumn(deps.mapping, who.by), who.value, deps.timeoutMs))?.row;
    } catch (error) {
      counter.inc({ result: 'unavailable' });
      // Only the error's name and code: a driver's message could quote the session id.
      const cause = ((error as { cause?: unknown }).cause ?? error) as { name?: unknown; code?: unknown };
      log.error({ err: { name: cause.name, code: cause.code } }, 'legacy session store unavailable');
      res.set('retry-after', '5');
      return fail(res, 503, { error: ERRORS.legacyUnavailable, error_description: 'the legacy session store or database did not answer' });
    }
    // auth.php logs a session of a deleted or deactivated user out on the spot.
    if (!row || !row.active) return invalid();
    const prepared = prepareRow(row, { mapping: deps.mapping, fingerprintKey: deps.fingerprintKey });
    if (!prepared.ok) {
      log.warn({ legacyId: row.legacyId, reason: prepared.deadLetter.reason }, 'legacy session of a user the migration cannot import');
      return invalid();
    }
    counter.inc({ result: 'valid' });
    log.info({ legacyId: row.legacyId }, 'legacy session resolved');
    const { active: _active, ...user } = prepared.row.user;
    res.json({ ok: true, user: profileOf(row), import: await wrapImportRecord(user, deps.wrapIterations) });
  });

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    if (status === 400 || status === 413 || status === 415) return fail(res, status, { error: ERRORS.invalidRequest });
    currentLogger(deps.logger).error({ err: { name: (error as Error).name } }, 'session resolve error');
    fail(res, 500, { error: ERRORS.internalError });
  });
  return router;
}
