import { idpEnv } from '../../idp/config.ts';
import { commonEnv, loadConfig, variable } from '../../lib/config.ts';
import { legacyAdapterEnv } from '../config.ts';

const idpDatabase = variable(idpEnv.DATABASE_URL, "The idp's database: the migration writes users and fingerprints into it, wrap-hashes wraps the hashes imported there.");

/**
 * The migrate command reads the idp's database variable and the legacy-adapter's: it writes the
 * idp's users and fingerprints legacy hashes with the key the adapter uses at JIT imports.
 */
export const migrateEnv = {
  NODE_ENV: commonEnv.NODE_ENV,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  DATABASE_URL: idpDatabase,
  LEGACY_DATABASE_URL: legacyAdapterEnv.LEGACY_DATABASE_URL,
  LEGACY_MAPPING_FILE: legacyAdapterEnv.LEGACY_MAPPING_FILE,
  LEGACY_ADAPTER_SECRET: legacyAdapterEnv.LEGACY_ADAPTER_SECRET,
  LEGACY_FINGERPRINT_KEY: legacyAdapterEnv.LEGACY_FINGERPRINT_KEY,
  LEGACY_WRAP_ITERATIONS: legacyAdapterEnv.LEGACY_WRAP_ITERATIONS,
};

export type MigrateConfig = ReturnType<typeof loadMigrateConfig>;

export function loadMigrateConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(migrateEnv, env);
}

/** `npm run wrap:hashes` needs only the idp's database and the iteration count. */
export const wrapEnv = {
  NODE_ENV: commonEnv.NODE_ENV,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  DATABASE_URL: idpDatabase,
  LEGACY_WRAP_ITERATIONS: legacyAdapterEnv.LEGACY_WRAP_ITERATIONS,
};

export function loadWrapConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(wrapEnv, env);
}
