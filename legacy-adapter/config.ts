import { z } from 'zod';
import { DEFAULT_WRAP_ITERATIONS } from '../lib/passwords/index.ts';
import { commonEnv, databaseUrl, legacyAdapterSecret, loadConfig, milliseconds, passwordWorkerQueueMax, port } from '../lib/config.ts';
import { sessionBridgeEnv } from './sessions/config.ts';

export const legacyAdapterEnv = {
  ...commonEnv,
  LEGACY_ADAPTER_PORT: port(3002),
  /** The ops listener: /metrics and /readyz (0: any free port). */
  LEGACY_ADAPTER_OPS_PORT: port(3102),
  LEGACY_ADAPTER_SECRET: legacyAdapterSecret,
  /**
   * The legacy monolith's database. Overrides the mapping file's `database.url`, because URLs
   * carry passwords and secrets belong in the environment; unset, the mapping's URL is used, else
   * sqlite:./data/legacy.sqlite.
   */
  LEGACY_DATABASE_URL: databaseUrl.optional(),
  /**
   * The longest any request waits for the legacy database (a pool slot, connecting, each
   * statement, together); past it the answer is 503 legacy_unavailable. The session bridge's
   * statements and phpredis commands get it each too. Keep it well under the
   * idp's LEGACY_ADAPTER_TIMEOUT_MS (5000), which also has to cover verifying the password.
   */
  LEGACY_DATABASE_TIMEOUT_MS: milliseconds(2_000).pipe(z.number().min(100, 'must be at least 100')),
  /** Slow-hash jobs that may wait for a password worker thread; one more answers 503 busy. */
  PASSWORD_WORKER_QUEUE_MAX: passwordWorkerQueueMax,
  /** The legacy schema mapping (YAML or JSON), see legacy-adapter/mappings/README.md. */
  LEGACY_MAPPING_FILE: z.string().min(1).default('legacy-adapter/mappings/legacy-php.yaml'),
  /**
   * Key of the legacy-hash fingerprints the idp stores at import (legacy/fingerprint.ts). Unset,
   * it is derived from LEGACY_ADAPTER_SECRET; set it explicitly before ever rotating that secret,
   * since a new key makes every stored fingerprint look changed.
   */
  LEGACY_FINGERPRINT_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /**
   * PBKDF2 iterations the batch migration wraps cheap legacy hashes (md5, salted digests, DES and
   * md5 crypt, phpass) with as it copies them, and `npm run wrap:hashes` over rows copied before
   * (lib/passwords/README.md, "Wrapped legacy hashes"); 0 copies them unwrapped (not advised).
   */
  LEGACY_WRAP_ITERATIONS: z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 1000 && n <= 10_000_000), 'must be 0 (no wrapping) or from 1000 to 10000000')
    .default(DEFAULT_WRAP_ITERATIONS),
  /** The PHP session store the gateway's session bridge writes (sessions/config.ts). */
  ...sessionBridgeEnv,
};

export type LegacyAdapterConfig = ReturnType<typeof loadLegacyAdapterConfig>;

export function loadLegacyAdapterConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(legacyAdapterEnv, env);
}
