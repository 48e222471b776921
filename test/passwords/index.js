// Node 24's test runner treats `node --test test/passwords/` as a module path rather than a
// folder to search, so this index is what it loads; it runs every *.test.ts beside it. A glob
// such as `node --test 'test/passwords/*.test.ts'` runs the same files one process each.
import { readdirSync } from 'node:fs';

const here = new URL('./', import.meta.url);
for (const file of readdirSync(here).filter((name) => name.endsWith('.test.ts')).sort()) {
  await import(new URL(file, here).href);
}
