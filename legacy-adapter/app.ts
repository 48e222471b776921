import express, { type NextFunction, type Request, type Response } from 'express';
import { hasBearerSecret } from '../lib/bearer-auth.ts';
import { createDatabase } from '../lib/db.ts';
import { startService, type RunningService } from '../lib/service.ts';
import type { LegacyAdapterConfig } from './config.ts';
import { createLegacyDirectory } from './legacy/directory.ts';
import { fingerprintKey } from './legacy/fingerprint.ts';
import { legacyDatabaseUrl, loadMapping } from './mapping/index.ts';
import { createAdapterMetrics } from './metrics.ts';
import { internalRoutes } from './routes.ts';

/** Only the idp (holding the shared bearer secret) may call the internal API. */
function requireInternalSecret(secret: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, secret)) return next();
    res.status(401).set('www-authenticate', 'Bearer').json({ error: 'unauthorized' });
  };
}

export async function startLegacyAdapter(config: LegacyAdapterConfig): Promise<RunningService> {
  // A bad mapping is a configuration error: it stops the start (exit 78) naming each problem.
  const mapping = loadMapping(config.LEGACY_MAPPING_FILE);
  return startService('legacy-adapter', config, config.LEGACY_ADAPTER_PORT, async ({ logger, metrics }) => {
    const legacyDb = createDatabase(legacyDatabaseUrl(config.LEGACY_DATABASE_URL, mapping), { pool: { min: 0, max: 5 } });
    const adapterMetrics = createAdapterMetrics(metrics.registry);
    const directory = createLegacyDirectory(legacyDb, { mapping, fingerprintKey: fingerprintKey(config), metrics: adapterMetrics, logger });
    const app = express();
    app.disable('x-powered-by');
    const internal = express.Router();
    internal.use(requireInternalSecret(config.LEGACY_ADAPTER_SECRET));
    internal.get('/ping', (_req, res) => {
      res.json({ ok: true });
    });
    internal.use(internalRoutes(directory, adapterMetrics, logger));
    app.use('/internal/v1', internal);
    return {
      handler: app,
      // Reads the mapped columns, so a mapping that does not fit the table shows as not ready.
      checks: [{ name: 'legacy-database', check: () => directory.check() }],
      // Password worker threads are not closed here: they hold the process open only while
      // working, and other services may share them when run in one process (tests, bench).
      close: () => legacyDb.destroy(),
    };
  });
}
