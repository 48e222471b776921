import { z } from 'zod';
import { commonEnv, databaseUrl, httpUrl, idpInternalSecret, legacyWrapIterations, loadConfig, variable } from '../../lib/config.ts';
import { legacyAdapterEnv } from '../config.ts';

/**
 * The migrate command reads the legacy-adapter's variables (the legacy database, the mapping, the
 * fingerprint key the adapter uses at JIT imports), its own store, and where the idp's
 * bulk-import port is: it writes nothing of the idp's but through that port.
 */
export const migrateEnv = {
  NODE_ENV: commonEnv.NODE_ENV,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  LEGACY_ETL_DATABASE_URL: variable(
    databaseUrl.default('sqlite:./data/legacy-etl.sqlite'),
    "The batch migration's own store: its checkpoints and dead letters (never the idp's users). `sqlite:<file>` or `mysql://user:pass@host:3306/db`; the default sits beside the embedded idp's `data/idp.sqlite`.",
    { production: "a database of its own (or a schema beside the legacy-adapter's)" },
  ),
  IDP_INTERNAL_URL: variable(
    httpUrl.default('http://127.0.0.1:3001'),
    "The idp's own listener, where the migration calls `POST /internal/v1/import/users` (not through the gateway).",
    { production: "the idp's internal address" },
  ),
  IDP_INTERNAL_SECRET: idpInternalSecret,
  IDP_IMPORT_TIMEOUT_MS: variable(
    z.coerce.number().int().min(1000).max(3_600_000).default(120_000),
    'How long the migration waits for the idp to import one batch before trying again (a batch of thousands of users wrapped in PBKDF2 takes seconds).',
  ),
  LEGACY_DATABASE_URL: legacyAdapterEnv.LEGACY_DATABASE_URL,
  LEGACY_MAPPING_FILE: legacyAdapterEnv.LEGACY_MAPPING_FILE,
  LEGACY_ADAPTER_SECRET: legacyAdapterEnv.LEGACY_ADAPTER_SECRET,
  LEGACY_FINGERPRINT_KEY: legacyAdapterEnv.LEGACY_FINGERPRINT_KEY,
  LEGACY_WRAP_ITERATIONS: legacyWrapIterations,
};

export type MigrateConfig = ReturnType<typeof loadMigrateConfig>;

export function loadMigrateConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(migrateEnv, env);
}
