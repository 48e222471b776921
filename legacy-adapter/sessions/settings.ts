import { ConfigError } from '../../lib/config.ts';
import type { LegacySessionCookie } from '../../contracts/legacy-session-cookie.ts';
import type { SessionMapping, SessionStoreSettings } from '../mapping-format/session-schema.ts';
import type { SessionBridgeConfig } from './config.ts';

/** The session settings in force: the mapping's `session` section with the environment's overrides applied. */
export interface SessionSettings {
  store: SessionStoreSettings;
  /** Idle seconds before PHP counts a session dead (session.gc_maxlifetime). */
  lifetime: number;
  cookie: LegacySessionCookie;
  redis: { host: string; port: number; db: number; password?: string };
}

export const DEFAULT_SESSION_LIFETIME = 1440;

const STORE_TYPES = { db: 'table', table: 'table', redis: 'phpredis', phpredis: 'phpredis', files: 'files' } as const;

function storeOf(mapped: SessionStoreSettings | undefined, env: SessionBridgeConfig): SessionStoreSettings {
  const type = env.LEGACY_SESSION_STORE ? STORE_TYPES[env.LEGACY_SESSION_STORE] : (mapped?.type ?? 'table');
  const base = mapped?.type === type ? mapped : undefined;
  if (type === 'table') {
    const table =
      base?.type === 'table'
        ? base
        : { type: 'table' as const, table: 'sessions', columns: { id: 'id', data: 'data', timestamp: 'last_access' }, timestamp: 'unix' as const };
    return { ...table, table: env.LEGACY_SESSION_TABLE ?? table.table };
  }
  if (type === 'phpredis') {
    const redis = base?.type === 'phpredis' ? base : { type: 'phpredis' as const, prefix: 'PHPREDIS_SESSION:' };
    return { ...redis, prefix: env.LEGACY_SESSION_REDIS_PREFIX ?? redis.prefix };
  }
  const savePath = env.LEGACY_SESSION_SAVE_PATH ?? (base?.type === 'files' ? base.save_path : undefined);
  if (!savePath) throw new ConfigError(['the files session store needs session.store.save_path or LEGACY_SESSION_SAVE_PATH']);
  return { type: 'files', save_path: savePath };
}

export function sessionSettings(session: SessionMapping, env: SessionBridgeConfig): SessionSettings {
  const { cookie } = session;
  return {
    store: storeOf(session.store, env),
    lifetime: env.LEGACY_SESSION_LIFETIME ?? session.lifetime ?? DEFAULT_SESSION_LIFETIME,
    cookie: {
      name: env.LEGACY_SESSION_NAME ?? cookie.name,
      path: cookie.path,
      ...(cookie.domain ? { domain: cookie.domain } : {}),
      secure: cookie.secure,
      httpOnly: cookie.httponly,
      sameSite: cookie.samesite,
      maxAge: cookie.lifetime,
    },
    redis: {
      host: env.LEGACY_REDIS_HOST,
      port: env.LEGACY_REDIS_PORT,
      db: env.LEGACY_REDIS_DB,
      ...(env.LEGACY_REDIS_PASSWORD ? { password: env.LEGACY_REDIS_PASSWORD } : {}),
    },
  };
}
