export { DEFAULT_LEGACY_DATABASE_URL, MappingError, legacyDatabaseUrl, loadMapping, parseMapping, type LegacyMapping } from './load.ts';
