// The documentation is many pages that point at each other and at the code: a page renamed, a
// file moved or a heading reworded must not leave a reader on a dead link. Every relative link
// in the README, SECURITY.md, docs/ and the READMEs beside the code must name a file that exists
// and, when it has an anchor, a heading of that file (GitHub's anchors).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/support/processes.ts';

const pages = [
  'README.md',
  'SECURITY.md',
  ...readdirSync(join(repoRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  'legacy-adapter/mappings/README.md',
  'lib/passwords/README.md',
  'legacy-php/README.md',
  'legacy-php-2/README.md',
].filter((page) => existsSync(join(repoRoot, page)));

/** Markdown without its fenced blocks and inline code, where brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor of a heading (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (anchors) return anchors;
  anchors = new Set();
  const seen = new Map<string, number>();
  const withoutFences = readFileSync(file, 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(match[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

/** Every problem with the relative links of one page, as "page: target: what". */
function deadLinks(page: string): string[] {
  const file = join(repoRoot, page);
  const problems: string[] = [];
  for (const match of prose(readFileSync(file, 'utf8')).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const link = match[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto: and other absolute URLs
    const [path = '', anchor] = link.split('#', 2);
    const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!target.startsWith(repoRoot)) {
      problems.push(`${page}: ${link}: points outside the repository`);
      continue;
    }
    if (!existsSync(target)) {
      problems.push(`${page}: ${link}: ${relative(repoRoot, target)} does not exist`);
      continue;
    }
    if (anchor && target.endsWith('.md') && statSync(target).isFile() && !anchorsOf(target).has(anchor)) {
      problems.push(`${page}: ${link}: no heading #${anchor} in ${relative(repoRoot, target)}`);
    }
  }
  return problems;
}

test('every relative link in the README and the docs points to a file and heading that exist', () => {
  assert.ok(pages.includes('README.md') && pages.some((page) => page.startsWith('docs/')), `pages found: ${pages.join(', ')}`);
  assert.deepEqual(pages.flatMap(deadLinks), []);
});

test('the anchors computed here are the ones GitHub makes', () => {
  assert.equal(slug('The route table (`GATEWAY_ROUTES_FILE`, default `gateway/routes.yaml`)'), 'the-route-table-gateway_routes_file-default-gatewayroutesyaml');
  assert.equal(slug("Worked examples: PHP's files handler"), 'worked-examples-phps-files-handler');
  assert.equal(slug('Flipping: CLI, admin API, admin page'), 'flipping-cli-admin-api-admin-page');
});

// Files the docs name that a run writes, not the repository: they need not exist in a checkout.
const WRITTEN_BY_A_RUN = /^(data|dist|test-artifacts|bench\/out)\/|^deploy\/compose\/clients\.yaml$|^\.env$/;
const TOP_LEVEL = /^(gateway|idp|legacy-adapter|lib|contracts|cli|test|scripts|deploy|bench|docs|legacy-php|legacy-php-2)\//;

/** The repository paths a page names in its code, inline or fenced (`gateway/routes.yaml`, `node idp/cli/keys.ts`). */
function namedPaths(markdown: string): string[] {
  const code = [...markdown.matchAll(/^(```|~~~)[^\n]*\n([\s\S]*?)^\1[^\n]*$/gm)].map((m) => m[2]!);
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  code.push(...[...withoutFences.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
  const paths = new Set<string>();
  for (const text of code) {
    for (const word of text.split(/[\s,()[\]]+/)) {
      const path = word.replace(/^\.\//, '').replace(/[:;.]+$/, '');
      if (!TOP_LEVEL.test(path) || /[<>*{}$|'"=?]/.test(path) || WRITTEN_BY_A_RUN.test(path)) continue;
      paths.add(path);
    }
  }
  return [...paths];
}

test('every repository path and npm script the README and the docs name exists', () => {
  const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const problems: string[] = [];
  // The READMEs beside the code name paths relative to their own folder (legacy-php-2/'s lib/): not checked here.
  for (const page of pages.filter((p) => !p.includes('/') || p.startsWith('docs/'))) {
    const markdown = readFileSync(join(repoRoot, page), 'utf8');
    for (const path of namedPaths(markdown)) {
      if (!existsSync(join(repoRoot, path))) problems.push(`${page}: ${path} does not exist`);
    }
    for (const [, script] of markdown.matchAll(/npm run (?:-s )?([a-z][\w:-]*\w)/g)) {
      if (!(script! in scripts)) problems.push(`${page}: npm run ${script} is not a script of package.json`);
    }
  }
  assert.deepEqual([...new Set(problems)], []);
});

test('every file and folder the layout in docs/development.md names exists', () => {
  const page = readFileSync(join(repoRoot, 'docs/development.md'), 'utf8');
  const block = /## Layout of the repository\n+```\n([\s\S]*?)^```$/m.exec(page)?.[1];
  assert.ok(block, 'docs/development.md shows the layout');
  const problems: string[] = [];
  let folder = '';
  for (const line of block.split('\n')) {
    // "name/", "  name.ts other/", then two spaces and what it is; deeper indents continue a description.
    const entry = /^( {0,2})(\S+(?: \S+)*?)(?: {2,}|$)/.exec(line);
    if (!entry || line.startsWith('   ')) continue;
    const names = entry[2]!.split(' ');
    for (const name of names) {
      const path = entry[1] === '' ? name : `${folder}${name}`;
      if (!existsSync(join(repoRoot, path))) problems.push(path);
    }
    if (entry[1] === '') folder = names[0]!.endsWith('/') ? names[0]! : '';
  }
  assert.deepEqual(problems, [], 'named in the layout, missing from the repository');
});
