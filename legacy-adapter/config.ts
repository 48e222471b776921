import { z } from 'zod';
import {
  commonEnv,
  databaseUrl,
  legacyAdapterSecret,
  legacyWrapIterations,
  loadConfig,
  milliseconds,
  passwordWorkerQueueMax,
  port,
  variable,
} from '../lib/config.ts';
import { sessionBridgeEnv } from './sessions/config.ts';

export const legacyAdapterEnv = {
  ...commonEnv,
  LEGACY_ADAPTER_PORT: variable(port(3002), 'Port of the internal API (the idp and the gateway call it).'),
  LEGACY_ADAPTER_OPS_PORT: variable(port(3102), 'Port of the ops listener: `/metrics`, `/readyz` (`/healthz` too); `0`: any free port.'),
  LEGACY_ADAPTER_SECRET: legacyAdapterSecret,
  /** URLs carry passwords, and secrets belong in the environment: so this wins over the mapping's database.url. */
  LEGACY_DATABASE_URL: variable(
    databaseUrl.optional(),
    "The legacy monolith's database (`mysql://user:pass@host/db`, `sqlite:<file>`); wins over the mapping file's `database.url`.",
    { secret: true, default: "the mapping's `database.url`, else `sqlite:./data/legacy.sqlite`", production: "the monolith's database" },
  ),
  LEGACY_DATABASE_TIMEOUT_MS: variable(
    milliseconds(2_000).pipe(z.number().min(100, 'must be at least 100')),
    'The longest one request waits for the legacy database (a pool slot, connecting, its statements, together; MySQL statements are killed at it, SQLite\'s lock wait is set to it); past it the answer is 503 `legacy_unavailable`, never "not found" or "wrong password". The session bridge\'s statements and phpredis commands get it each too. Keep it well under the idp\'s `LEGACY_ADAPTER_TIMEOUT_MS`, which also covers verifying the password.',
  ),
  PASSWORD_WORKER_QUEUE_MAX: passwordWorkerQueueMax,
  LEGACY_MAPPING_FILE: variable(
    z.string().min(1).default('legacy-adapter/mappings/legacy-php.yaml'),
    'The legacy schema mapping (YAML or JSON), see legacy-adapter/mappings/README.md; a bad file stops the start (exit 78).',
  ),
  LEGACY_FINGERPRINT_KEY: variable(
    z.string().min(32, 'must be at least 32 characters').optional(),
    'Key of the legacy-hash fingerprints the idp stores at import (directory/fingerprint.ts). Set it explicitly before ever rotating `LEGACY_ADAPTER_SECRET`, since a new key makes every stored fingerprint look changed.',
    { secret: true, default: 'derived from `LEGACY_ADAPTER_SECRET`' },
  ),
  LEGACY_WRAP_ITERATIONS: legacyWrapIterations,
  ...sessionBridgeEnv,
};

export type LegacyAdapterConfig = ReturnType<typeof loadLegacyAdapterConfig>;

export function loadLegacyAdapterConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(legacyAdapterEnv, env);
}
