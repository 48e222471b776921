import express, { type NextFunction, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import { Counter, type Registry } from 'prom-client';
import type { z } from 'zod';
import { pathUnder } from '../../contracts/endpoint.ts';
import type { InternalErrorBody } from '../../contracts/internal-error.ts';
import {
  createSessionEndpoint,
  deleteSessionEndpoint,
  SESSION_BRIDGE_BASE,
  SESSION_BRIDGE_ERRORS as ERRORS,
  sessionCookieEndpoint,
} from '../../contracts/session-bridge-api.ts';
import { hasBearerSecret } from '../../lib/bearer-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import type { LegacyDirectory } from '../directory/directory.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { loggedInAs, loggedInSessionData, SessionValueError } from './php-session.ts';
import { findSessionRow, type SessionRow } from './session-user.ts';
import { isPhpSessionId, newPhpSessionId } from './session-id.ts';
import type { SessionSettings } from './settings.ts';
import type { LegacySessionStore } from './legacy-session-store.ts';
import { safeError } from '../../lib/safe-error.ts';

const route = (path: string) => pathUnder(SESSION_BRIDGE_BASE, path);
const fail = (res: Response, status: number, body: InternalErrorBody) => void res.status(status).json(body);

export interface SessionBridgeDeps {
  secret: string;
  store: LegacySessionStore;
  legacyDb: Knex;
  mapping: LegacyMapping;
  directory: LegacyDirectory;
  settings: SessionSettings;
  /** LEGACY_DATABASE_TIMEOUT_MS: each statement's deadline. */
  timeoutMs: number;
  registry: Registry;
  logger: Logger;
}

/**
 * The session bridge's internal API (mounted at /internal/v1/sessions, before the idp's API, with
 * its own bearer secret): the gateway logs a user in on the monolith after an OpenID Connect
 * login, and out again. Session ids are never logged.
 *
 *   POST /   {legacyId} or {login} -> 201 {sessionId, lifetimeSeconds, cookie}; 404 unknown or inactive user
 *   GET /cookie                    -> 200 {cookie}: the monolith's session cookie, for reading and clearing it
 *   DELETE /:id                    -> 204 (whether or not it existed)
 * The contract is contracts/session-bridge-api.ts; `cookie` is contracts/legacy-session-cookie.ts's, from the mapping's `session.cookie`.
 */
export function sessionBridgeRouter(deps: SessionBridgeDeps): express.Router {
  const counter = new Counter({
    name: 'legacy_adapter_bridge_sessions_total',
    help: 'PHP sessions the session bridge wrote or removed, by action (create, delete) and result (ok, not_found, invalid, unavailable)',
    labelNames: ['action', 'result'] as const,
    registers: [deps.registry],
  });
  const { mapping, settings } = deps;
  const findById = (legacyId: string) => findSessionRow(deps.legacyDb, mapping, mapping.columns.id, legacyId, deps.timeoutMs);

  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, deps.secret)) return next();
    res.set('www-authenticate', 'Bearer');
    fail(res, 401, { error: ERRORS.unauthorized });
  });
  router.use(express.json({ limit: '4kb' }));

  router.post(route(createSessionEndpoint.path), async (req: Request, res: Response) => {
    const parsed = createSessionEndpoint.request.safeParse(req.body);
    if (!parsed.success) {
      counter.inc({ action: 'create', result: 'invalid' });
      return fail(res, 400, { error: ERRORS.invalidRequest, error_description: 'body must be {"legacyId": "<digits>"} or {"login": string}' });
    }
    let found: SessionRow | undefined;
    try {
      if ('legacyId' in parsed.data) found = await findById(parsed.data.legacyId);
      else {
        const byLogin = await deps.directory.findForLogin(parsed.data.login);
        found = byLogin ? await findById(byLogin.legacyId) : undefined;
      }
    } catch (error) {
      return unavailable(res, 'create', error);
    }
    const notFound = () => {
      counter.inc({ action: 'create', result: 'not_found' });
      fail(res, 404, { error: ERRORS.userNotFound, error_description: 'no active legacy user by this id or login' });
    };
    // PHP would log an inactive user straight out again (auth.php): no session for them at all.
    if (!found || !found.row.active) return notFound();
    let data: Buffer;
    try {
      data = loggedInSessionData(found.user, mapping.session);
      // A session the monolith would not count as logged in (a decisive key NULL for this user,
      // such as a login when the row has no username) is no session at all.
      if (!loggedInAs(data, mapping.session)) return notFound();
    } catch (error) {
      if (!(error instanceof SessionValueError)) throw error;
      // The mapping gives a key a type this row's value cannot have: a mapping to fix, not an outage.
      counter.inc({ action: 'create', result: 'invalid' });
      currentLogger(deps.logger).error({ legacyId: found.row.legacyId, err: safeError(error) }, 'the session mapping does not fit this user');
      return fail(res, 500, {
        error: ERRORS.sessionMappingMismatch,
        error_description: "the mapping's session keys do not fit this user: see the adapter's log",
      });
    }
    const sessionId = newPhpSessionId(mapping.session.sid);
    try {
      await deps.store.create(sessionId, data);
    } catch (error) {
      return unavailable(res, 'create', error);
    }
    counter.inc({ action: 'create', result: 'ok' });
    currentLogger(deps.logger).info({ legacyId: found.row.legacyId }, 'bridged PHP session created');
    const answer: z.input<typeof createSessionEndpoint.answer> = { sessionId, lifetimeSeconds: settings.lifetime, cookie: settings.cookie };
    res.status(201).set('cache-control', 'no-store').json(answer);
  });

  router.get(route(sessionCookieEndpoint.path), (_req: Request, res: Response) => {
    res.json({ cookie: settings.cookie } satisfies z.input<typeof sessionCookieEndpoint.answer>);
  });

  router.delete(route(deleteSessionEndpoint.path), async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!isPhpSessionId(id)) {
      counter.inc({ action: 'delete', result: 'invalid' });
      return fail(res, 400, { error: ERRORS.invalidRequest, error_description: 'not a session id' });
    }
    try {
      const existed = await deps.store.destroy(id);
      counter.inc({ action: 'delete', result: existed ? 'ok' : 'not_found' });
    } catch (error) {
      return unavailable(res, 'delete', error);
    }
    res.status(204).end();
  });

  function unavailable(res: Response, action: 'create' | 'delete', error: unknown) {
    counter.inc({ action, result: 'unavailable' });
    // Only the error's name and code: a driver's message can quote the session id (duplicate key).
    const cause = ((error as { cause?: unknown }).cause ?? error) as { name?: unknown; code?: unknown };
    currentLogger(deps.logger).error({ err: { name: cause.name, code: cause.code } }, 'legacy session store unavailable');
    res.set('retry-after', '5');
    fail(res, 503, { error: ERRORS.legacyUnavailable, error_description: 'the legacy session store or database did not answer' });
  }

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    if (status === 400 || status === 413 || status === 415) return fail(res, status, { error: ERRORS.invalidRequest });
    currentLogger(deps.logger).error({ err: error }, 'session bridge error');
    fail(res, 500, { error: ERRORS.internalError });
  });
  return router;
}
