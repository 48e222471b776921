// An error reaches a log only through lib/safe-error (the logger's `err` serializer, or
// safeError itself): a database error's message can quote the value it failed on (a duplicate
// entry, a statement with a hash or an e-mail written in), and safeError withholds such values.
// A hand-made `err: { message: error.message }` is a plain object, which the serializer passes
// as it is: this test finds any, in every service and in lib/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/support/processes.ts';
import { sourceFiles } from '../support/source-files.ts';

const ROOTS = ['gateway', 'idp', 'legacy-adapter', 'lib', 'contracts', 'cli'];
/** `err:` or `error:` (the serializer's keys) given an object literal that carries a `message`. */
const HAND_MADE = /\berr(?:or)?: \{[^{}]*\bmessage\b[^{}]*\}/g;

test("no log hands over an error's own message: errors go through lib/safe-error", () => {
  const found: string[] = [];
  for (const root of ROOTS)
    for (const file of sourceFiles(join(repoRoot, root))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(HAND_MADE)) {
        const line = text.slice(0, match.index).split('\n').length;
        found.push(`${relative(repoRoot, file)}:${line}: ${match[0]}`);
      }
    }
  assert.deepEqual(found, [], 'log the error itself (err: error) or safeError(error), never its message');
});

test('the pattern finds what it is meant to find', () => {
  const hits = (text: string) => [...text.matchAll(HAND_MADE)].length;
  assert.equal(hits("logger.error({ route, err: { message: (error as Error).message } }, 'x')"), 1);
  assert.equal(hits("log.warn({ err: { name: e.name, message: e.message } }, 'x')"), 1);
  assert.equal(hits("log.warn({ err: safeError(error) }, 'x')"), 0);
  assert.equal(hits("log.warn({ err: { name: cause.name, code: cause.code } }, 'x')"), 0);
});
