// The README's walkthrough is what a newcomer types first, so it must work as printed: this test
// starts the system as `npm start` does (scripts/start-embedded.ts, with PHP) on free ports and a
// data directory of its own, then feeds every ```sh block under "## Five-minute walkthrough" to one
// shell, in order, as one terminal would, and checks that each block's output holds the ```text
// block printed after it. The banner `npm start` prints is checked against the README the same way.
//
// What the README shows and what runs differ only in where things are: its default ports become
// the free ones, and the commands that default to ./data are pointed at this test's data directory.
// An expected line matches an output line holding it (spaces collapsed); "..." in a line stands for
// anything, a line of "..." alone for lines left out; expected lines are found in order.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { freePort, repoRoot } from '../../scripts/support/processes.ts';
import { legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';

interface Block {
  lang: string;
  body: string;
}

/** The fenced blocks of one `## ` section of a markdown file, in order. */
function sectionBlocks(markdown: string, heading: string): Block[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `the README has no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

/** Each ```sh block with the ```text block that follows it (its expected output), if any. */
function commandsWithOutput(blocks: Block[]): { commands: string; expected: string | null }[] {
  const steps: { commands: string; expected: string | null }[] = [];
  for (const block of blocks) {
    if (block.lang === 'sh') steps.push({ commands: block.body, expected: null });
    else if (block.lang === 'text' && steps.length > 0 && steps.at(-1)!.expected === null) steps.at(-1)!.expected = block.body;
  }
  return steps;
}

const squeeze = (line: string) => line.replace(/\r/g, '').replace(/\s+/g, ' ').trim();

/** The expected lines missing from the output, in order; [] when all are there. */
function missingLines(output: string, expected: string): string[] {
  const lines = output.split('\n').map(squeeze);
  let at = 0;
  const missing: string[] = [];
  for (const want of expected.split('\n').map(squeeze)) {
    if (want === '' || want === '...') continue;
    const fragments = want.split('...').map((f) => f.trim());
    const matches = (line: string) => {
      let from = 0;
      for (const fragment of fragments) {
        const found = line.indexOf(fragment, from);
        if (found === -1) return false;
        from = found + fragment.length;
      }
      return true;
    };
    const found = lines.findIndex((line, i) => i >= at && matches(line));
    if (found === -1) missing.push(want);
    else at = found + 1;
  }
  return missing;
}

/** One shell the blocks are typed into, as into one terminal: variables and exports carry over. */
class Terminal {
  private output = '';
  private readonly shell: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number | string>;
  private count = 0;

  constructor(env: Record<string, string>) {
    this.shell = spawn('sh', ['-e'], { cwd: repoRoot, env, stdio: 'pipe' });
    this.shell.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    this.shell.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.shell.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  }

  /** Types the block and answers what it printed (stdout and stderr), once its last line ran. */
  async run(commands: string): Promise<string> {
    const marker = `__walkthrough_block_${++this.count}_done__`;
    const from = this.output.length;
    this.shell.stdin.write(`${commands}\necho ${marker}\n`);
    const done = new Promise<void>((resolve) => {
      const check = () => {
        if (!this.output.includes(marker, from)) return;
        this.shell.stdout.off('data', check);
        resolve();
      };
      this.shell.stdout.on('data', check);
      check();
    });
    const died = this.exited.then((code) => {
      throw new Error(`the shell stopped (exit ${code}) in:\n${commands}\nafter printing:\n${this.output.slice(from)}`);
    });
    await Promise.race([done, died]);
    return this.output.slice(from, this.output.indexOf(marker, from));
  }

  close(): void {
    this.shell.stdin.end();
  }
}

const phpMissing = await legacyPhpUnavailableReason({ db: 'sqlite' });
if (phpMissing) console.warn(`SKIPPING the README walkthrough: ${phpMissing}`);

test('the README walkthrough runs as printed against npm start', { skip: phpMissing ?? false }, async () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const steps = commandsWithOutput(sectionBlocks(readme, 'Five-minute walkthrough'));
  assert.ok(steps.length >= 5 && steps.every((s) => s.expected !== null), 'every ```sh block of the walkthrough is followed by the ```text it prints');
  const banner = sectionBlocks(readme, 'Two commands').find((b) => b.lang === 'text');
  assert.ok(banner, 'the README shows what npm start prints');

  const dir = mkdtempSync(join(tmpdir(), 'idm-readme-'));
  const data = join(dir, 'data');
  const ports: Record<string, number> = {};
  for (const name of ['GATEWAY_PORT', 'IDP_PORT', 'LEGACY_ADAPTER_PORT', 'GATEWAY_OPS_PORT', 'IDP_OPS_PORT', 'LEGACY_ADAPTER_OPS_PORT', 'LEGACY_PHP_PORT']) {
    ports[name] = await freePort();
  }
  // The README's default ports, and the ones this run got.
  const readmePorts: Record<string, number> = {
    3000: ports.GATEWAY_PORT!,
    3001: ports.IDP_PORT!,
    3002: ports.LEGACY_ADAPTER_PORT!,
    3100: ports.GATEWAY_OPS_PORT!,
    3101: ports.IDP_OPS_PORT!,
    3102: ports.LEGACY_ADAPTER_OPS_PORT!,
    8080: ports.LEGACY_PHP_PORT!,
  };
  // Also URL-encoded, as in a post_logout_redirect_uri.
  const here = (text: string) =>
    text.replace(
      /(localhost|127\.0\.0\.1)(:|%3A)(3000|3001|3002|3100|3101|3102|8080)\b/g,
      (_, host: string, colon: string, port: string) => `${host}${colon}${readmePorts[port]}`,
    );

  // Node first on PATH, as scripts/node.sh would find it; nothing else of this test's environment.
  const baseEnv = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir, TMPDIR: dir, LANG: 'C.UTF-8' };
  const stack = spawn(process.execPath, ['scripts/start-embedded.ts'], {
    cwd: repoRoot,
    env: { ...baseEnv, DATA_DIR: data, LOG_LEVEL: 'warn', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stackOutput = '';
  stack.stdout.on('data', (d: Buffer) => (stackOutput += d.toString()));
  stack.stderr.on('data', (d: Buffer) => (stackOutput += d.toString()));
  const stackExited = new Promise<number | string>((resolve) => stack.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const terminal = new Terminal({
    ...baseEnv,
    // What the commands find by default in a checkout running npm start: ./data, the gateway on 3000, the idp on 3001.
    DATABASE_URL: `sqlite:${join(data, 'idp.sqlite')}`,
    LEGACY_DATABASE_URL: `sqlite:${join(data, 'legacy.sqlite')}`,
    LEGACY_ETL_DATABASE_URL: `sqlite:${join(data, 'legacy-etl.sqlite')}`,
    IDP_INTERNAL_URL: `http://127.0.0.1:${ports.IDP_PORT}`,
    GATEWAY_ADMIN_URL: `http://127.0.0.1:${ports.GATEWAY_PORT}`,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const check = () => stackOutput.includes('embedded mode: running') && resolve();
      stack.stdout.on('data', check);
      void stackExited.then(() => reject(new Error(`npm start exited before running:\n${stackOutput}`)));
    });
    assert.deepEqual(missingLines(stackOutput, here(banner.body)), [], `npm start printed:\n${stackOutput}`);

    for (const step of steps) {
      const output = await terminal.run(here(step.commands));
      assert.deepEqual(missingLines(output, here(step.expected!)), [], `the README's block\n${step.commands}\nprinted:\n${output}`);
    }
  } finally {
    terminal.close();
    stack.kill('SIGTERM');
    await stackExited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the output matcher: lines in order, spaces collapsed, "..." for anything', () => {
  const output = 'a  b\r\n2026-01-01  login   idp -> legacy  by x@y (cli) (api): roll back\nlast';
  assert.deepEqual(missingLines(output, 'a b\n...\n... login idp -> legacy by ... (cli) (api): roll back\nlast'), []);
  assert.deepEqual(missingLines(output, 'last\na b'), ['a b']);
  assert.deepEqual(missingLines(output, 'login legacy -> idp'), ['login legacy -> idp']);
});
