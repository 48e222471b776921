import express, { type NextFunction, type Request, type Response } from 'express';
import { hasBearerSecret } from '../lib/bearer-auth.ts';
import { createDatabase, databaseCheck } from '../lib/db.ts';
import { configurePasswordWorkers } from '../lib/passwords/index.ts';
import { startService, type RunningService } from '../lib/service.ts';
import type { LegacyAdapterConfig } from './config.ts';
import { createLegacyDirectory } from './directory/directory.ts';
import { fingerprintKey } from './directory/fingerprint.ts';
import { legacyDatabaseUrl, loadMapping } from './mapping-format/index.ts';
import { createAdapterMetrics } from './metrics.ts';
import { internalRoutes } from './routes.ts';
import { SESSION_RESOLVE_MOUNT, sessionResolveRouter } from './sessions/resolve-route.ts';
import { LEGACY_ADAPTER_API_BASE, LEGACY_ADAPTER_ERRORS } from '../contracts/legacy-adapter-api.ts';
import { SESSION_BRIDGE_BASE } from '../contracts/session-bridge-api.ts';
import { sessionBridgeRouter } from './sessions/routes.ts';
import { sessionSettings } from './sessions/settings.ts';
import { createLegacySessionStore } from './sessions/store.ts';

/** Only the idp (holding the shared bearer secret) may call the internal API. */
function requireInternalSecret(secret: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, secret)) return next();
    res.status(401).set('www-authenticate', 'Bearer').json({ error: LEGACY_ADAPTER_ERRORS.unauthorized });
  };
}

export async function startLegacyAdapter(config: LegacyAdapterConfig): Promise<RunningService> {
  // A bad mapping is a configuration error: it stops the start (exit 78) naming each problem.
  const mapping = loadMapping(config.LEGACY_MAPPING_FILE);
  const settings = sessionSettings(mapping.session, config);
  return startService('legacy-adapter', config, { port: config.LEGACY_ADAPTER_PORT, opsPort: config.LEGACY_ADAPTER_OPS_PORT }, async ({ logger, metrics }) => {
    const timeoutMs = config.LEGACY_DATABASE_TIMEOUT_MS;
    // Connecting and waiting for a pool slot share the request's deadline (the directory's).
    const legacyDb = createDatabase(legacyDatabaseUrl(config.LEGACY_DATABASE_URL, mapping), { pool: { min: 0, max: 5 }, waitMs: timeoutMs });
    configurePasswordWorkers({ maxQueue: config.PASSWORD_WORKER_QUEUE_MAX });
    const adapterMetrics = createAdapterMetrics(metrics.registry);
    const directory = createLegacyDirectory(legacyDb, { mapping, fingerprintKey: fingerprintKey(config), metrics: adapterMetrics, logger, timeoutMs });
    directory.check().then(
      () => logger.info({ table: mapping.table }, 'legacy mapping fits the legacy table'),
      (error: unknown) =>
        logger.error(
          { err: (error as Error).cause ?? error, table: mapping.table },
          'legacy mapping does not fit the legacy table (or the database is down); logins of users unknown to the idp will fail',
        ),
    );
    const sessions = createLegacySessionStore(settings, legacyDb, logger, timeoutMs);
    const app = express();
    app.disable('x-powered-by');
    // The gateway's session bridge, with a secret of its own: mounted before the idp's API.
    app.use(
      SESSION_BRIDGE_BASE,
      sessionBridgeRouter({
        secret: config.LEGACY_SESSION_BRIDGE_SECRET,
        store: sessions,
        legacyDb,
        mapping,
        directory,
        settings,
        timeoutMs,
        registry: metrics.registry,
        logger,
      }),
    );
    const internal = express.Router();
    internal.use(requireInternalSecret(config.LEGACY_ADAPTER_SECRET));
    internal.get('/ping', (_req, res) => {
      res.json({ ok: true });
    });
    // The idp accepting a PHP session as proof of login: the idp's secret, not the bridge's.
    internal.use(
      SESSION_RESOLVE_MOUNT,
      sessionResolveRouter({
        store: sessions,
        legacyDb,
        mapping,
        fingerprintKey: fingerprintKey(config),
        timeoutMs,
        wrapIterations: config.LEGACY_WRAP_ITERATIONS,
        registry: metrics.registry,
        logger,
        cookie: settings.cookie,
      }),
    );
    internal.use(
      internalRoutes(directory, adapterMetrics, logger, { mapping, fingerprintKey: fingerprintKey(config), wrapIterations: config.LEGACY_WRAP_ITERATIONS }),
    );
    app.use(LEGACY_ADAPTER_API_BASE, internal);
    return {
      handler: app,
      // Readiness is the database answering; whether the mapping fits the table is logged at
      // start below and reported in full by cli/check-mapping.ts.
      checks: [{ ...databaseCheck(legacyDb), name: 'legacy-database' }, ...sessions.checks],
      // Password worker threads are not closed here: they hold the process open only while
      // working, and other services may share them when run in one process (tests, bench).
      close: async () => {
        await sessions.close();
        await legacyDb.destroy();
      },
    };
  });
}
