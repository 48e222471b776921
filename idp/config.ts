import { z } from 'zod';
import { boolFlag, commonEnv, ConfigError, databaseUrl, httpUrl, idpInternalSecret, legacyAdapterSecret, loadConfig, milliseconds, port, redisUrl, secret } from '../lib/config.ts';

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
  /** How long a login waits for the legacy-adapter before failing as unavailable. */
  LEGACY_ADAPTER_TIMEOUT_MS: milliseconds(5_000),
  /** PBKDF2-HMAC-SHA256 iterations of new hashes; older ones are rehashed at login. OWASP: 600000. */
  PBKDF2_ITERATIONS: z.coerce.number().int().min(1).max(10_000_000).default(600_000),
  IDP_INTERNAL_SECRET: idpInternalSecret,
  // Login pages (idp/interactions) and failed-login throttling (idp/throttle).
  IDP_INTERACTION_SECRET: secret('dev-only-idp-interaction-secret-change-me'),
  IDP_FORGOT_PASSWORD_URL: httpUrl.optional(),
  IDP_LOGIN_THROTTLE_WINDOW_MS: milliseconds(900_000),
  IDP_LOGIN_THROTTLE_ACCOUNT_FREE_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(5),
  IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: z.coerce.number().int().min(1).max(100_000).default(20),
  IDP_LOGIN_THROTTLE_BASE_DELAY_MS: milliseconds(1_000),
  IDP_LOGIN_THROTTLE_MAX_DELAY_MS: milliseconds(900_000),
};

export type IdpConfig = ReturnType<typeof loadIdpConfig>;

export function loadIdpConfig(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(idpEnv, env);
  // Tests lower the cost to stay fast; production must not ship that by accident.
  if (config.NODE_ENV === 'production' && config.PBKDF2_ITERATIONS < 100_000) {
    throw new ConfigError([`PBKDF2_ITERATIONS: must be at least 100000 in production (got ${config.PBKDF2_ITERATIONS}); OWASP recommends 600000`]);
  }
  return config;
}
