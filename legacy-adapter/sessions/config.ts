import { z } from 'zod';
import { legacySessionBridgeSecret, port, variable } from '../../lib/config.ts';
import { phpSessionName } from '../../contracts/legacy-session-cookie.ts';
import { tableName } from '../mapping-format/identifiers.ts';
import { savePath } from '../mapping-format/session-schema.ts';

/**
 * The monolith's sessions are described by the mapping's `session` section; the environment holds
 * only hosts and secrets (Redis), plus overrides named as the sample monolith's own variables
 * (legacy-php/config.php), so one set of values still configures both sides of it. An override,
 * when set, wins over the mapping (sessions/settings.ts).
 */
export const sessionBridgeEnv = {
  LEGACY_SESSION_BRIDGE_SECRET: legacySessionBridgeSecret,
  LEGACY_SESSION_STORE: variable(
    z.enum(['db', 'redis', 'table', 'phpredis', 'files']).optional(),
    "Override of the mapping's session store: `db`/`table` (a sessions table), `redis`/`phpredis`, `files`; legacy-php reads the same variable.",
    { default: "the mapping's `session.store`, else `db`" },
  ),
  LEGACY_SESSION_TABLE: variable(tableName.optional(), "Override of the table store's table name (its columns come from the mapping).", {
    default: "the mapping's, else `sessions`",
  }),
  LEGACY_SESSION_LIFETIME: variable(
    z.coerce.number().int().min(60).max(31_536_000).optional(),
    'Override: idle seconds before PHP counts a session dead (`session.gc_maxlifetime`; the phpredis TTL unless the mapping sets `ttl`).',
    { default: "the mapping's `session.lifetime`, else `1440`" },
  ),
  LEGACY_SESSION_REDIS_PREFIX: variable(z.string().max(128).optional(), "Override of the phpredis store's session key prefix.", {
    default: "the mapping's, else `PHPREDIS_SESSION:`",
  }),
  LEGACY_SESSION_SAVE_PATH: variable(
    savePath.optional(),
    "Override of the files store's `session.save_path` (it differs per host more often than per monolith).",
    { default: "the mapping's" },
  ),
  LEGACY_SESSION_NAME: variable(
    phpSessionName.optional(),
    "Override of the mapping's `session.cookie.name` (legacy-php reads the same variable); the adapter announces the name in force to the gateway and the idp.",
    { default: "the mapping's, else `PHPSESSID`" },
  ),
  LEGACY_REDIS_HOST: variable(z.string().min(1).default('127.0.0.1'), "phpredis's `session.save_path` host (the phpredis store)."),
  LEGACY_REDIS_PORT: variable(port(6379), "phpredis's `session.save_path` port."),
  LEGACY_REDIS_DB: variable(z.coerce.number().int().min(0).max(65_535).default(0), "phpredis's `database` save_path option."),
  LEGACY_REDIS_PASSWORD: variable(
    z.string().min(1).optional(),
    "phpredis's `auth` save_path option; never printed (`idm check-mapping` says only set or unset).",
    { secret: true, default: 'unset' },
  ),
};

export type SessionBridgeConfig = z.infer<z.ZodObject<typeof sessionBridgeEnv>>;
