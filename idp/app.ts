import express from 'express';
import { createDatabase, databaseCheck, migrate } from '../lib/db.ts';
import { createRedis, redisCheck } from '../lib/redis.ts';
import { startService, type RunningService } from '../lib/service.ts';
import type { IdpConfig } from './config.ts';
import { idpMigrations } from './store/migrations/index.ts';

export async function startIdp(config: IdpConfig): Promise<RunningService> {
  return startService('idp', config, config.IDP_PORT, async ({ logger }) => {
    const knex = createDatabase(config.DATABASE_URL);
    if (config.DB_MIGRATE_ON_START) {
      const applied = await migrate(knex, idpMigrations);
      if (applied.length) logger.info({ applied }, 'database migrated');
    }
    const redis = config.REDIS_URL ? createRedis(config.REDIS_URL, { keyPrefix: config.REDIS_KEY_PREFIX, name: 'idp' }) : undefined;
    const app = express();
    app.disable('x-powered-by');
    app.set('trust proxy', config.TRUST_PROXY);
    app.get('/', (_req, res) => {
      res.json({ service: 'idp', issuer: config.IDP_ISSUER });
    });
    return {
      handler: app,
      checks: [databaseCheck(knex), ...(redis ? [redisCheck(redis)] : [])],
      async close() {
        await knex.destroy();
        redis?.disconnect();
      },
    };
  });
}
