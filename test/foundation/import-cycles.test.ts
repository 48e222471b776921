// The module graph stays a tree of layers: no import cycle anywhere (a cycle makes load order
// decide whether a binding is initialised, and makes a module impossible to read alone), and the
// three services stay inside their boundaries, so that any one of them can be deleted (the
// legacy-adapter is, at the end of the migration) without breaking the others. Every import
// counts, type-only ones and re-exports included: TypeScript's own scanner finds them.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../../scripts/support/processes.ts';
import { sourceFiles } from '../support/source-files.ts';

const ROOTS = ['gateway', 'idp', 'legacy-adapter', 'lib', 'contracts', 'cli', 'scripts', 'test', 'bench'];
const SERVICES = ['gateway', 'idp', 'legacy-adapter'] as const;
/** Shared folders: anyone may import them, they import no service. */
const SHARED = ['lib', 'contracts'] as const;

/**
 * Imports across a boundary that are known and being removed: none since the batch migration
 * moved behind the idp's bulk-import port. An entry would be an exact edge (importer ->
 * imported, repository-relative); an edge not listed fails the test.
 */
const ALLOWED_CROSSINGS = new Set<string>([]);

const repo = (path: string) => relative(repoRoot, path).split(sep).join('/');
const topOf = (path: string) => repo(path).split('/')[0]!;

/** The repository files a module imports (relative specifiers only: packages cannot form a cycle with us). */
function importsOf(file: string): string[] {
  const scanned = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const targets: string[] = [];
  for (const { fileName } of scanned.importedFiles) {
    if (!fileName.startsWith('./') && !fileName.startsWith('../')) continue;
    const target = resolve(dirname(file), fileName.replace(/\.js$/, '.ts'));
    // A relative specifier to a non-module file (JSON, a worker URL) is not an edge of this graph.
    if (/\.(ts|mts)$/.test(target) && existsSync(target)) targets.push(target);
  }
  return targets;
}

function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const root of ROOTS) for (const file of sourceFiles(join(repoRoot, root))) edges.set(file, importsOf(file));
  return edges;
}

/** Every strongly connected component of more than one module (or a module importing itself): Tarjan. */
function cycles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    indexOf.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
      }
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (edges.get(node) ?? []).includes(node)) found.push(component);
    }
  };
  for (const node of edges.keys()) if (!indexOf.has(node)) visit(node);
  return found;
}

/** One concrete loop through a component, for a message a person can follow. */
function loopThrough(component: string[], edges: Map<string, string[]>): string[] {
  const members = new Set(component);
  const start = component[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    for (const next of edges.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start].map(repo);
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return component.map(repo);
}

test('no module imports itself back through any chain of imports (type-only imports included)', () => {
  const edges = graph();
  assert.ok(edges.size > 300, `only ${edges.size} modules found: the walk is broken`);
  const loops = cycles(edges).map((component) => loopThrough(component, edges).join(' -> '));
  assert.deepEqual(loops, [], `import cycles:\n  ${loops.join('\n  ')}`);
});

test('the services import nothing of one another, and lib/ and contracts/ import no service', () => {
  const crossings: string[] = [];
  for (const [file, targets] of graph()) {
    const from = topOf(file);
    for (const target of targets) {
      const to = topOf(target);
      const service = (SERVICES as readonly string[]).includes(to);
      const crosses = ((SERVICES as readonly string[]).includes(from) && service && from !== to) || ((SHARED as readonly string[]).includes(from) && service);
      const edge = `${repo(file)} -> ${repo(target)}`;
      if (crosses && !ALLOWED_CROSSINGS.has(edge)) crossings.push(edge);
    }
  }
  assert.deepEqual(crossings, [], `imports across a service boundary:\n  ${crossings.join('\n  ')}`);
});

test('the cycle finder names a cycle it is given, type-only and re-export edges alike', () => {
  const a = '/x/a.ts';
  const b = '/x/b.ts';
  const c = '/x/c.ts';
  const edges = new Map([
    [a, [b]],
    [b, [c]],
    [c, [a]],
    ['/x/d.ts', [a]],
  ]);
  const found = cycles(edges);
  assert.equal(found.length, 1);
  assert.deepEqual(new Set(found[0]), new Set([a, b, c]));
  const scanned = ts.preProcessFile(
    "import type { T } from './t.ts';\nexport { u } from './u.ts';\nexport * from './v.ts';\nconst w = await import('./w.ts');",
    true,
    true,
  );
  assert.deepEqual(
    scanned.importedFiles.map((f) => f.fileName),
    ['./t.ts', './u.ts', './v.ts', './w.ts'],
  );
});
