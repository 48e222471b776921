import { z } from 'zod';
import { boolFlag, commonEnv, databaseUrl, httpUrl, legacyAdapterSecret, loadConfig, port, redisUrl } from '../lib/config.ts';

export const idpEnv = {
  ...commonEnv,
  IDP_PORT: port(3001),
  IDP_ISSUER: httpUrl.default('http://localhost:3000'),
  DATABASE_URL: databaseUrl.default('sqlite:./data/idp.sqlite'),
  DB_MIGRATE_ON_START: boolFlag(true),
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: z.string().default('idm:'),
  LEGACY_ADAPTER_URL: httpUrl.default('http://127.0.0.1:3002'),
  LEGACY_ADAPTER_SECRET: legacyAdapterSecret,
};

export type IdpConfig = ReturnType<typeof loadIdpConfig>;

export function loadIdpConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(idpEnv, env);
}
