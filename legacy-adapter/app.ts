import express, { type NextFunction, type Request, type Response } from 'express';
import { hasBearerSecret } from '../lib/bearer-auth.ts';
import { createDatabase, databaseCheck } from '../lib/db.ts';
import { startService, type RunningService } from '../lib/service.ts';
import type { LegacyAdapterConfig } from './config.ts';

/** Only the idp (holding the shared bearer secret) may call the internal API. */
function requireInternalSecret(secret: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (hasBearerSecret(req, secret)) return next();
    res.status(401).set('www-authenticate', 'Bearer').json({ error: 'unauthorized' });
  };
}

export async function startLegacyAdapter(config: LegacyAdapterConfig): Promise<RunningService> {
  return startService('legacy-adapter', config, config.LEGACY_ADAPTER_PORT, async () => {
    const legacyDb = createDatabase(config.LEGACY_DATABASE_URL, { pool: { min: 0, max: 5 } });
    const app = express();
    app.disable('x-powered-by');
    const internal = express.Router();
    internal.use(requireInternalSecret(config.LEGACY_ADAPTER_SECRET));
    internal.get('/ping', (_req, res) => {
      res.json({ ok: true });
    });
    app.use('/internal/v1', internal);
    return {
      handler: app,
      checks: [{ ...databaseCheck(legacyDb), name: 'legacy-database' }],
      close: () => legacyDb.destroy(),
    };
  });
}
