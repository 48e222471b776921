// `idm`, the operator's one command: its help, its exit codes, a real subcommand end to end on
// SQLite with --json, and that it loads only the service the subcommand belongs to.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/support/processes.ts';

// Prints every project file the process loads, so a test can see what a subcommand pulled in.
const traceLoads = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) {
  const resolved = next(specifier, context);
  if (resolved.url.startsWith('file:') && !resolved.url.includes('/node_modules/')) process.stderr.write('loaded ' + resolved.url + '\\n');
  return resolved;
} });`)}`;

function idm(args: string[], env: Record<string, string> = {}, options: { trace?: boolean } = {}) {
  const flags = options.trace ? ['--import', traceLoads] : [];
  const result = spawnSync(process.execPath, [...flags, 'cli/idm.ts', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  const loaded = [...result.stderr.matchAll(/^loaded file:\/\/(.*)$/gm)].map((m) => relative(repoRoot, m[1]!));
  return { code: result.status, stdout: result.stdout, stderr: result.stderr.replace(/^loaded .*\n/gm, ''), loaded };
}

test('idm --help lists every command and the exit codes; no command at all is a usage error', () => {
  const help = idm(['--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const command of ['routes', 'keys', 'clients', 'sessions', 'migrate users', 'migrate db', 'wrap-hashes', 'verify', 'check-mapping']) {
    assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'), command);
  }
  assert.match(help.stdout, /Exit codes: 0 done; 1 failed, refused or not ready;\s+2 usage error; 78 bad configuration/);
  const none = idm([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /usage: idm <command>/);
});

test('an unknown command, an unknown option and half a command exit 2 and say what is wrong', () => {
  const unknown = idm(['flip']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "flip"/);
  const migrate = idm(['migrate']);
  assert.equal(migrate.code, 2);
  assert.match(migrate.stderr, /users or db/);
  for (const args of [
    ['keys', 'list', '--nope'],
    ['keys', 'rotate'],
    ['clients', 'new-secret', '--nope'],
    ['routes', 'list', '--nope'],
    ['check-mapping', '--nope'],
    ['migrate', 'db', 'extra'],
  ]) {
    const run = idm(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /usage: idm /, args.join(' '));
  }
});

test('every command answers --help with its usage and exit 0, loading nothing of another service', () => {
  // The services a command may load, its own first. The batch migration (migrate users, wrap-hashes) reads the
  // legacy database and writes the idp's store, so it spans both.
  const allowed: Record<string, string[]> = {
    routes: ['gateway'],
    keys: ['idp'],
    clients: ['idp'],
    sessions: ['idp'],
    'migrate db': ['idp'],
    'migrate users': ['legacy-adapter', 'idp'],
    'wrap-hashes': ['idp', 'legacy-adapter'],
    verify: ['legacy-adapter'],
    'check-mapping': ['legacy-adapter'],
  };
  for (const [command, services] of Object.entries(allowed)) {
    const run = idm([...command.split(' '), '--help'], {}, { trace: true });
    assert.equal(run.code, 0, `${command}: ${run.stderr}`);
    assert.match(run.stdout, new RegExp(`usage: idm ${command}`), command);
    const loaded = new Set(run.loaded.map((file) => file.split('/')[0]!).filter((top) => ['gateway', 'idp', 'legacy-adapter'].includes(top)));
    assert.ok(loaded.has(services[0]!), `${command} runs ${services[0]}'s code`);
    for (const service of loaded) assert.ok(services.includes(service), `${command} loaded ${service}`);
  }
  const help = idm(['--help'], {}, { trace: true });
  assert.deepEqual(
    help.loaded.filter((file) => !file.startsWith('cli/')),
    [],
    'idm --help loads no service',
  );
});

test('idm migrate db and idm keys on SQLite, end to end, with --json output that parses', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`, IDP_KEYS_POLL_SECONDS: '1' };

  const keysFirst = idm(['keys', 'list'], env);
  assert.equal(keysFirst.code, 1, 'no signing_keys table before the migrations: a failure, not a usage error');
  assert.match(keysFirst.stderr, /signing_keys table does not exist/);

  const migrated = idm(['migrate', 'db', '--json'], env);
  assert.equal(migrated.code, 0, migrated.stderr);
  const { applied } = JSON.parse(migrated.stdout) as { applied: string[] };
  assert.ok(applied.length > 0, 'a fresh database gets every migration');
  assert.deepEqual(JSON.parse(idm(['migrate', 'db', '--json'], env).stdout), { applied: [] }, 'and then none');

  const added = idm(['keys', 'add-next'], env);
  assert.equal(added.code, 0, added.stderr);
  const listed = idm(['keys', 'list', '--json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  const keys = JSON.parse(listed.stdout) as Array<{ kid: string; state: string; createdAt: string }>;
  assert.equal(keys.length, 1);
  assert.equal(keys[0]!.state, 'next');
  assert.ok(!Number.isNaN(Date.parse(keys[0]!.createdAt)));

  assert.equal(idm(['keys', 'promote'], env).code, 0, 'the first key signs at once: there is no other');
  assert.equal(idm(['keys', 'add-next'], env).code, 0);
  const early = idm(['keys', 'promote'], env);
  assert.equal(early.code, 1, 'promoting a key every replica may not have published yet is refused');
  assert.match(early.stderr, /refused: /);
  assert.deepEqual((JSON.parse(idm(['keys', 'list', '--json'], env).stdout) as Array<{ state: string }>).map((k) => k.state).sort(), ['active', 'next']);

  const badConfig = idm(['keys', 'list'], { DATABASE_URL: 'postgres://nowhere/idp' });
  assert.equal(badConfig.code, 78, 'a malformed variable is bad configuration, as for the services');
  assert.match(badConfig.stderr, /DATABASE_URL: must start with sqlite:/);
});

test('idm clients new-secret --json prints a secret and its hash', () => {
  const run = idm(['clients', 'new-secret', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const { client_secret: secret, client_secret_hash: hash } = JSON.parse(run.stdout) as Record<string, string>;
  assert.ok(secret && secret.length >= 32);
  assert.match(hash!, /^\$hmac-sha256\$/);
});

test('no service, and nothing in lib/, imports cli/: the operator tool sits on top', () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && /from '(\.\.\/)+cli\/|import\('(\.\.\/)+cli\//.test(readFileSync(path, 'utf8')))
        offenders.push(relative(repoRoot, path));
    }
  };
  for (const top of ['gateway', 'idp', 'legacy-adapter', 'lib']) walk(join(repoRoot, top));
  assert.deepEqual(offenders, []);
});
