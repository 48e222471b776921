// docs/internal-api.md is written from the contracts (npm run docs:internal-api): this fails when
// a contract changed and the committed reference was not regenerated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { INTERNAL_API_DOC, render } from '../../scripts/generate-internal-api-docs.ts';
import { repoRoot } from '../../scripts/support/processes.ts';

test('docs/internal-api.md is what npm run docs:internal-api writes from contracts/', () => {
  const committed = readFileSync(join(repoRoot, INTERNAL_API_DOC), 'utf8');
  assert.ok(committed === render(), `${INTERNAL_API_DOC} is out of date with contracts/: run \`npm run docs:internal-api\` and commit the result`);
});

test('the reference names every internal endpoint once', () => {
  const headings = render().match(/^### .*$/gm) ?? [];
  const endpoints = headings.map((h) => /`([A-Z]+ \S+)`/.exec(h)?.[1]);
  assert.equal(new Set(endpoints).size, endpoints.length, endpoints.join('\n'));
  assert.ok(endpoints.length >= 12, `only ${endpoints.length} endpoints`);
});
