import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** Why a declarative file could not be turned into a document; each caller words it for its own file. */
export class YamlFileError extends Error {
  readonly reason: 'unreadable' | 'invalid';
  /** The errno code, or the parser's first line: enough to fix the file, no stack. */
  readonly detail: string;
  constructor(reason: 'unreadable' | 'invalid', detail: string) {
    super(reason === 'unreadable' ? `cannot be read: ${detail}` : `is not valid YAML: ${detail}`);
    this.name = 'YamlFileError';
    this.reason = reason;
    this.detail = detail;
  }
}

/**
 * Reads and parses one YAML (or JSON: YAML is its superset) file: the routes table, the clients
 * and resources files, the legacy mappings. Validation stays with each owner's schema.
 */
export function readYamlDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new YamlFileError('unreadable', (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  try {
    return parse(text, { prettyErrors: true });
  } catch (error) {
    throw new YamlFileError('invalid', (error as Error).message.split('\n')[0] ?? 'parse error');
  }
}
