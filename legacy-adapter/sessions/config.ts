import { z } from 'zod';
import { legacySessionBridgeSecret, port } from '../../lib/config.ts';
import { phpSessionName } from '../../lib/legacy-session-cookie.ts';
import { tableName } from '../mapping/identifiers.ts';
import { savePath } from '../mapping/session-schema.ts';

/**
 * The monolith's sessions are described by the mapping's `session` section; the environment holds
 * only hosts and secrets (Redis), plus overrides named as the sample monolith's own variables
 * (legacy-php/config.php), so one set of values still configures both sides of it. An override,
 * when set, wins over the mapping (sessions/settings.ts).
 */
export const sessionBridgeEnv = {
  /** Bearer secret of /internal/v1/sessions (the gateway's session bridge): not LEGACY_ADAPTER_SECRET, which also verifies passwords. */
  LEGACY_SESSION_BRIDGE_SECRET: legacySessionBridgeSecret,
  /** Override of session.store.type: `db` (= table), `redis` (= phpredis), `files`. */
  LEGACY_SESSION_STORE: z.enum(['db', 'redis', 'table', 'phpredis', 'files']).optional(),
  /** Override of the table store's table. */
  LEGACY_SESSION_TABLE: tableName.optional(),
  /** Override of session.lifetime (session.gc_maxlifetime); neither set: 1440. */
  LEGACY_SESSION_LIFETIME: z.coerce.number().int().min(60).max(31_536_000).optional(),
  /** Override of the phpredis store's key prefix. */
  LEGACY_SESSION_REDIS_PREFIX: z.string().max(128).optional(),
  /** Override of the files store's session.save_path (it differs per host more often than per monolith). */
  LEGACY_SESSION_SAVE_PATH: savePath.optional(),
  /** Override of session.cookie.name (legacy-php's LEGACY_SESSION_NAME). */
  LEGACY_SESSION_NAME: phpSessionName.optional(),
  /** phpredis's session.save_path host, port, database and password (the phpredis store). */
  LEGACY_REDIS_HOST: z.string().min(1).default('127.0.0.1'),
  LEGACY_REDIS_PORT: port(6379),
  LEGACY_REDIS_DB: z.coerce.number().int().min(0).max(65_535).default(0),
  LEGACY_REDIS_PASSWORD: z.string().min(1).optional(),
};

export type SessionBridgeConfig = z.infer<z.ZodObject<typeof sessionBridgeEnv>>;
