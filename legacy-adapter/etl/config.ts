import { idpEnv } from '../../idp/config.ts';
import { loadConfig, logLevel, nodeEnv } from '../../lib/config.ts';
import { legacyAdapterEnv } from '../config.ts';

/**
 * The migrate command reads the idp's database variable and the legacy-adapter's: it writes the
 * idp's users and fingerprints legacy hashes with the key the adapter uses at JIT imports.
 */
export const migrateEnv = {
  NODE_ENV: nodeEnv,
  LOG_LEVEL: logLevel,
  DATABASE_URL: idpEnv.DATABASE_URL,
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
  NODE_ENV: nodeEnv,
  LOG_LEVEL: logLevel,
  DATABASE_URL: idpEnv.DATABASE_URL,
  LEGACY_WRAP_ITERATIONS: legacyAdapterEnv.LEGACY_WRAP_ITERATIONS,
};

export function loadWrapConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(wrapEnv, env);
}
