import { commonEnv, databaseUrl, legacyAdapterSecret, loadConfig, port } from '../lib/config.ts';

export const legacyAdapterEnv = {
  ...commonEnv,
  LEGACY_ADAPTER_PORT: port(3002),
  LEGACY_ADAPTER_SECRET: legacyAdapterSecret,
  /** The legacy monolith's database; kept out of the mapping file because it carries a password. */
  LEGACY_DATABASE_URL: databaseUrl.default('sqlite:./data/legacy.sqlite'),
};

export type LegacyAdapterConfig = ReturnType<typeof loadLegacyAdapterConfig>;

export function loadLegacyAdapterConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(legacyAdapterEnv, env);
}
