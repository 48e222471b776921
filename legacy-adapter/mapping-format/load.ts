import { resolve } from 'node:path';
import { ConfigError } from '../../lib/config.ts';
import { mappingSchema, type LegacyMapping } from './schema.ts';
import { readYamlDocument, YamlFileError } from '../../lib/yaml-file.ts';

export type { LegacyMapping } from './schema.ts';

/** The mapping file could not be read or does not describe a usable legacy table; lists every problem. */
export class MappingError extends ConfigError {
  constructor(file: string, problems: string[]) {
    super(problems.map((p) => `${file}: ${p}`));
    this.name = 'MappingError';
  }
}

/** Validates an already parsed mapping document (from YAML or JSON). */
export function parseMapping(document: unknown, file = '(mapping)'): LegacyMapping {
  const result = mappingSchema.safeParse(document);
  if (!result.success) {
    throw new MappingError(
      file,
      result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** Reads a `.yaml`/`.yml` or `.json` mapping file (YAML is a superset of JSON, so one parser reads both). */
export function loadMapping(file: string): LegacyMapping {
  const path = resolve(file);
  let document: unknown;
  try {
    document = readYamlDocument(path);
  } catch (error) {
    if (!(error instanceof YamlFileError)) throw error;
    throw new MappingError(file, [error.reason === 'unreadable' ? `cannot read the mapping file (${error.detail})` : `not valid YAML/JSON: ${error.detail}`]);
  }
  return parseMapping(document, file);
}

export const DEFAULT_LEGACY_DATABASE_URL = 'sqlite:./data/legacy.sqlite';

/**
 * LEGACY_DATABASE_URL wins over the mapping's `database.url` because URLs carry passwords and
 * the environment is where secrets live; the mapping's URL is for password-less ones (SQLite,
 * socket auth) and documentation.
 */
export function legacyDatabaseUrl(envUrl: string | undefined, mapping: LegacyMapping): string {
  return envUrl ?? mapping.database?.url ?? DEFAULT_LEGACY_DATABASE_URL;
}
