import { commonEnv, legacyWrapIterations, loadConfig, variable } from '../../lib/config.ts';
import { idpEnv } from '../config.ts';

/** `idm wrap-hashes` (idp/cli/wrap-hashes.ts) needs only the idp's database and the iteration count. */
export const wrapEnv = {
  NODE_ENV: commonEnv.NODE_ENV,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  DATABASE_URL: variable(idpEnv.DATABASE_URL, "The idp's database, whose imported cheap legacy hashes the pass wraps."),
  LEGACY_WRAP_ITERATIONS: legacyWrapIterations,
};

export function loadWrapConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(wrapEnv, env);
}
