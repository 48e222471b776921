// The legacy-adapter as the tests start it: in this process over a legacy database URL (the
// login, dual-write and reset tests), or as its own process over a running sample monolith (the
// session-bridge tests, which read its logs). Both carry the same test secrets.
import { join } from 'node:path';
import type { RunningService } from '../../lib/service.ts';
import { startLegacyAdapter } from '../../legacy-adapter/app.ts';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';
import { repoRoot, startServiceProcess, type SpawnedService } from './processes.ts';
import type { LegacyPhp } from './legacy-php.ts';

export const ADAPTER_SECRET = 'test-legacy-adapter-secret-0123456789abcdef';
export const BRIDGE_SECRET = 'test-session-bridge-secret-0123456789abcdef';
export const LEGACY_PHP_MAPPING = join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml');
export const FORUM_MAPPING = join(repoRoot, 'legacy-adapter/mappings/forum-members.yaml');

/** The legacy-adapter as a real HTTP service on a free port, in this process. */
export async function startAdapter(databaseUrl: string, mappingFile = LEGACY_PHP_MAPPING, env: Record<string, string> = {}): Promise<RunningService> {
  return startLegacyAdapter(
    loadLegacyAdapterConfig({
      LOG_LEVEL: 'silent',
      LEGACY_ADAPTER_PORT: '0',
      LEGACY_ADAPTER_OPS_PORT: '0',
      LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
      LEGACY_DATABASE_URL: databaseUrl,
      LEGACY_MAPPING_FILE: mappingFile,
      ...env,
    }),
  );
}

/** A legacy-adapter process over `php`'s database and session store, with both of its secrets. */
export function startAdapterProcess(php: LegacyPhp, env: Record<string, string> = {}): Promise<SpawnedService> {
  return startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', {
    LEGACY_DATABASE_URL: php.db.url,
    LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
    LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
    LEGACY_SESSION_STORE: php.env.LEGACY_SESSION_STORE!,
    LEGACY_SESSION_SAVE_PATH: php.sessionSavePath,
    LEGACY_REDIS_HOST: php.env.LEGACY_REDIS_HOST!,
    LEGACY_REDIS_PORT: php.env.LEGACY_REDIS_PORT!,
    LEGACY_SESSION_NAME: php.sessionName,
    ...env,
  });
}
