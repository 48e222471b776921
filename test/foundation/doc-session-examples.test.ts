// docs/migration.md shows, per session store, a mapping's `session` section and what a bridged
// login then writes. A reader copies those examples: each must load as the legacy-adapter loads a
// mapping, and the session data the page prints must be byte for byte what the adapter writes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadMapping, parseMapping } from '../../legacy-adapter/mapping-format/index.ts';
import { loggedInSessionData } from '../../legacy-adapter/sessions/php-session.ts';
import { repoRoot } from '../../scripts/support/processes.ts';

const page = readFileSync(join(repoRoot, 'docs/migration.md'), 'utf8');
const start = page.indexOf('\n## Worked examples: the session section per store\n');
const section = page.slice(start, page.indexOf('\n## ', start + 1));
const examples = [...section.matchAll(/^### (.+)\n([\s\S]*?)(?=^### |$(?![\s\S]))/gm)].map((m) => ({
  title: m[1]!,
  yaml: /^```yaml\n([\s\S]*?)^```$/m.exec(m[2]!)?.[1],
  text: m[2]!,
}));

// The example user: legacy id 42, alice, in group 1 (an admin, by the value map).
const alice = { legacyId: '42', username: 'alice', email: 'alice@example.com', name: 'Alice Anderson', columns: { group_id: 1 } };

test('docs/migration.md has a worked session example per store, each a mapping section the adapter loads', () => {
  assert.notEqual(start, -1, 'docs/migration.md has its worked examples');
  const stores = new Set<string>();
  for (const example of examples) {
    assert.ok(example.yaml, `${example.title}: a yaml block`);
    // The shipped sample mapping with the example's session section in place of its own.
    const base = parse(readFileSync(join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml'), 'utf8')) as Record<string, unknown>;
    const mapping = parseMapping({ ...base, ...(parse(example.yaml) as Record<string, unknown>) }, example.title);
    stores.add(mapping.session.store?.type ?? 'table');
  }
  assert.deepEqual([...stores].sort(), ['files', 'phpredis', 'table']);
});

test('the session data the examples print is what the adapter writes for that user', () => {
  let checked = 0;
  for (const example of examples) {
    const base = parse(readFileSync(join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml'), 'utf8')) as Record<string, unknown>;
    const mapping = parseMapping({ ...base, ...(parse(example.yaml!) as Record<string, unknown>) }, example.title);
    const written = loggedInSessionData(alice, mapping.session).toString('latin1');
    // The page quotes it in backticks, alone or inside a SET command.
    if (mapping.session.serialize_handler === 'php_binary') continue; // its length bytes are not printable
    assert.ok(example.text.includes(written), `${example.title}: the page should show ${written}`);
    checked++;
  }
  assert.ok(checked >= 2);
});

test('the shipped mappings the page names load', () => {
  for (const file of ['legacy-php.yaml', 'legacy-php-2.yaml', 'forum-members.yaml']) loadMapping(join(repoRoot, 'legacy-adapter/mappings', file));
});
