// Benchmarks and scripts run without the test tree (and scripts/ ships in the image): what they
// share with the tests lives in scripts/support/, and nothing under bench/ or scripts/ may
// import test/.
import assert from 'node:assert/strict';
import { readFileSync, globSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/support/processes.ts';

test('bench/ and scripts/ import nothing under test/', () => {
  const testDir = join(repoRoot, 'test');
  const offenders: string[] = [];
  for (const file of globSync(['bench/**/*.ts', 'scripts/**/*.ts'], { cwd: repoRoot })) {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(join(repoRoot, file)), match[1]!);
      if (!relative(testDir, target).startsWith('..')) offenders.push(`${file} -> ${match[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});
