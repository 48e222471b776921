// Reads one of the idp's declarative files (clients, resources) and validates it with zod, so
// a mistake stops the start with a message naming the file, the entry and the field.
import type { z } from 'zod';
import { readYamlDocument, YamlFileError } from '../../lib/yaml-file.ts';

export class DeclarationFileError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DeclarationFileError';
    this.problems = problems;
  }
}

/**
 * `describe(path)` turns a zod issue path into words ("client \"web\": redirect_uris[0]"),
 * so ops see which entry is wrong, not an array index.
 */
export function readYamlFile<T extends z.ZodType>(file: string, schema: T, describe: (path: PropertyKey[], raw: unknown) => string): z.infer<T> {
  let raw: unknown;
  try {
    raw = readYamlDocument(file);
  } catch (error) {
    if (error instanceof YamlFileError) throw new DeclarationFileError(file, [error.message]);
    throw error;
  }
  const result = schema.safeParse(raw ?? {});
  if (!result.success) {
    throw new DeclarationFileError(
      file,
      result.error.issues.map((issue) => `${describe(issue.path, raw)}: ${issue.message}`),
    );
  }
  return result.data;
}

/** "entries[2].field" -> `<kind> "<id>": field` when the entry has an id to name it by. */
export function describeEntryPath(collection: string, kind: string, idField: string) {
  return (path: PropertyKey[], raw: unknown): string => {
    if (path[0] !== collection || typeof path[1] !== 'number') return path.map(String).join('.') || '(file)';
    const entries = (raw as Record<string, unknown> | null)?.[collection];
    const entry = Array.isArray(entries) ? (entries[path[1]] as Record<string, unknown> | undefined) : undefined;
    const id = typeof entry?.[idField] === 'string' ? `"${entry[idField]}"` : `#${path[1] + 1}`;
    const rest = path
      .slice(2)
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`))
      .join('');
    return `${kind} ${id}${rest ? `: ${rest}` : ''}`;
  };
}
