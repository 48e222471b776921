import express, { type NextFunction, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import { queryWithin } from '../../lib/db.ts';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import { hasBearerSecret } from '../../lib/bearer-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { currentLogger } from '../../lib/request-context.ts';
import { legacySelection, toLegacyRow, type LegacyDirectory, type LegacyRow } from '../legacy/directory.ts';
import type { LegacyMapping } from '../mapping/index.ts';
import { loggedInSessionData } from './php-session.ts';
import { isPhpSessionId, newPhpSessionId } from './session-id.ts';
import type { LegacySessionStore } from './store.ts';

const body = z.union([
  z.strictObject({ legacyId: z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a positive integer') }),
  z.strictObject({ login: z.string().trim().min(1, 'must not be empty').max(320, 'is too long') }),
]);

/** The legacy row with this primary key, read through the mapping within `timeoutMs` (LEGACY_DATABASE_TIMEOUT_MS). */
export async function findLegacyRowById(legacyDb: Knex, mapping: LegacyMapping, legacyId: string, timeoutMs: number): Promise<LegacyRow | undefined> {
  const raw = await queryWithin<Record<string, unknown> | undefined>(legacyDb, timeoutMs, () =>
    legacyDb(mapping.table).select(legacySelection(mapping)).where(mapping.columns.id, legacyId).first(),
  );
  return raw ? toLegacyRow(mapping, raw) : undefined;
}

export interface SessionBridgeDeps {
  secret: string;
  store: LegacySessionStore;
  legacyDb: Knex;
  mapping: LegacyMapping;
  directory: LegacyDirectory;
  lifetimeSeconds: number;
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
 *   POST /   {legacyId} or {login} -> 201 {sessionId, lifetimeSeconds}; 404 unknown or inactive user
 *   DELETE /:id                    -> 204 (whether or not it existed)
 */
export function sessionBridgeRouter(deps: SessionBridgeDeps): express.Router {
  const counter = new Counter({
    name: 'legacy_adapter_bridge_sessions_total',
    help: 'PHP sessions the session bridge wrote or removed, by action (create, delete) and result (ok, not_found, invalid, unavailable)',
    labelNames: ['action', 'result'] as const,
    registers: [deps.registry],
  });
  const { mapping } = deps;
  const findById = (legacyId: string) => findLegacyRowById(deps.legacyDb, mapping, legacyId, deps.timeoutMs);

  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, deps.secret)) return next();
    res.status(401).set('www-authenticate', 'Bearer').json({ error: 'unauthorized' });
  });
  router.use(express.json({ limit: '4kb' }));

  router.post('/', async (req: Request, res: Response) => {
    const parsed = body.safeParse(req.body);
    if (!parsed.success) {
      counter.inc({ action: 'create', result: 'invalid' });
      return void res.status(400).json({ error: 'invalid_request', message: 'body must be {"legacyId": "<digits>"} or {"login": string}' });
    }
    let row: LegacyRow | undefined;
    try {
      row = 'legacyId' in parsed.data ? await findById(parsed.data.legacyId) : await deps.directory.findForLogin(parsed.data.login);
    } catch (error) {
      return unavailable(res, 'create', error);
    }
    // PHP would log an inactive user straight out again (auth.php): no session for them at all.
    if (!row || !row.active || !row.username) {
      counter.inc({ action: 'create', result: 'not_found' });
      return void res.status(404).json({ error: 'user_not_found' });
    }
    const sessionId = newPhpSessionId();
    try {
      await deps.store.create(sessionId, loggedInSessionData({ legacyId: row.legacyId, username: row.username }, deps.mapping.session));
    } catch (error) {
      return unavailable(res, 'create', error);
    }
    counter.inc({ action: 'create', result: 'ok' });
    currentLogger(deps.logger).info({ legacyId: row.legacyId }, 'bridged PHP session created');
    res.status(201).set('cache-control', 'no-store').json({ sessionId, lifetimeSeconds: deps.lifetimeSeconds });
  });

  router.delete('/:id', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!isPhpSessionId(id)) {
      counter.inc({ action: 'delete', result: 'invalid' });
      return void res.status(400).json({ error: 'invalid_request', message: 'not a session id' });
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
    res.status(503).set('retry-after', '5').json({ error: 'legacy_unavailable' });
  }

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    if (status === 400 || status === 413 || status === 415) return void res.status(status).json({ error: 'invalid_request' });
    currentLogger(deps.logger).error({ err: error }, 'session bridge error');
    res.status(500).json({ error: 'internal_error' });
  });
  return router;
}
