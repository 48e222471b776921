import { z } from 'zod';
import { legacySessionBridgeSecret, legacySessionLifetime, port } from '../../lib/config.ts';

/**
 * Where the monolith keeps its sessions. The names and defaults are legacy-php's own
 * (legacy-php/config.php), so one set of values configures both sides.
 */
export const sessionBridgeEnv = {
  /** Bearer secret of /internal/v1/sessions (the gateway's session bridge): not LEGACY_ADAPTER_SECRET, which also verifies passwords. */
  LEGACY_SESSION_BRIDGE_SECRET: legacySessionBridgeSecret,
  /** `db`: the sessions table (legacy-php's DbSessionHandler); `redis`: phpredis's save handler. */
  LEGACY_SESSION_STORE: z.enum(['db', 'redis']).default('db'),
  /** Table of the db store, in the legacy database (columns id, data, last_access, as DbSessionHandler has them). */
  LEGACY_SESSION_TABLE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a table name').default('sessions'),
  /** Idle seconds before PHP counts a session dead (session.gc_maxlifetime, and the Redis TTL). */
  LEGACY_SESSION_LIFETIME: legacySessionLifetime,
  /** phpredis's session.save_path host and port (LEGACY_SESSION_STORE=redis). */
  LEGACY_REDIS_HOST: z.string().min(1).default('127.0.0.1'),
  LEGACY_REDIS_PORT: port(6379),
  /** phpredis's session key prefix (its `prefix` save_path option; PHPREDIS_SESSION: unless set there). */
  LEGACY_SESSION_REDIS_PREFIX: z.string().default('PHPREDIS_SESSION:'),
};

export type SessionBridgeConfig = z.infer<z.ZodObject<typeof sessionBridgeEnv>>;
