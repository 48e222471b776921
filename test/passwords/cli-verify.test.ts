import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { legacyVectors } from './support/fixtures.ts';

const CLI = fileURLToPath(new URL('../../legacy-adapter/cli/verify.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(stdin: string | number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI], { stdio: [typeof stdin === 'number' ? stdin : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (!child.stdout || !child.stderr) throw new Error('stdout and stderr were asked to be pipes');
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (typeof stdin === 'string') child.stdin?.end(stdin);
  });
}

const vector = (scheme: string, password = 'hunter2') =>
  legacyVectors.find((v) => v.scheme === scheme && v.password === password) ?? assert.fail(`no ${scheme} fixture`);

test('verify CLI: one verdict per line, in order, malformed lines reported and skipped over', async () => {
  const md5 = vector('md5');
  const salted = vector('md5(salt.password)');
  const bcrypt = vector('bcrypt-2y');
  // PHP: md5(iconv('UTF-8', 'ISO-8859-1', 'Pässwörd'))
  const latin1Md5 = 'b35e30fd70d980934a21f62e759392a6';
  const lines = [
    JSON.stringify({ hash: md5.hash, password: 'hunter2', scheme: 'md5' }),
    'this is {not json hunter2',
    JSON.stringify({ hash: bcrypt.hash, password: 'hunter2' }),
    JSON.stringify({ hash: bcrypt.hash, password: 'hunter3' }),
    JSON.stringify({ hash: salted.hash, password: 'hunter2', salt: salted.salt, scheme: 'md5(salt.password)' }),
    JSON.stringify({ hash: md5.hash, password: 'hunter2' }),
    JSON.stringify({ hash: '$9$whatever', password: 'hunter2' }),
    JSON.stringify({ hash: null, password: 'hunter2' }),
    JSON.stringify({ hash: md5.hash, password: 42 }),
    JSON.stringify({ hash: md5.hash, password: 'hunter2', scheme: 'md4' }),
    JSON.stringify({ hash: md5.hash, password: 'hunter2', scheme: 'md5', encoding: 'ebcdic' }),
    JSON.stringify({ hash: latin1Md5, password: 'Pässwörd', scheme: 'md5', encoding: ['utf8', 'latin1'] }),
    JSON.stringify(['hunter2']),
    '',
  ];
  const { code, stdout, stderr } = await runCli(`${lines.join('\n')}\n`);
  assert.equal(code, 0, stderr);
  const verdicts = stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const failed = (error: RegExp) => ({ ok: false, scheme: null, needsRehash: false, error });
  const expected = [
    { ok: true, scheme: 'md5', needsRehash: true },
    failed(/not valid JSON/),
    { ok: true, scheme: 'bcrypt-2y', needsRehash: true },
    { ok: false, scheme: 'bcrypt-2y', needsRehash: false, reason: 'mismatch' },
    { ok: true, scheme: 'md5(salt.password)', needsRehash: true },
    { ok: false, scheme: null, needsRehash: false, reason: 'unrecognised' },
    { ok: false, scheme: null, needsRehash: false, reason: 'unrecognised' },
    { ok: false, scheme: null, needsRehash: false, reason: 'empty' },
    failed(/password/),
    failed(/scheme/),
    failed(/encoding/),
    { ok: true, scheme: 'md5', needsRehash: true },
    failed(/JSON object/),
    failed(/not valid JSON/),
  ];
  assert.equal(verdicts.length, expected.length, stdout);
  expected.forEach((want, i) => {
    const got = verdicts[i] ?? {};
    const { error, ...rest } = want as { error?: RegExp };
    if (error) {
      assert.match(String(got.error), error, `line ${i + 1}`);
      assert.deepEqual({ ...got, error: undefined }, { ...rest, error: undefined }, `line ${i + 1}`);
    } else {
      assert.deepEqual(got, rest, `line ${i + 1}`);
    }
  });
  assert.doesNotMatch(stdout + stderr, /hunter|Pässwörd/, 'a password was printed');
});

test('verify CLI: unreadable stdin is the one non-zero exit', async () => {
  const directory = openSync(fileURLToPath(new URL('.', import.meta.url)), 'r');
  try {
    const { code, stdout, stderr } = await runCli(directory);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /cannot read stdin/);
  } finally {
    closeSync(directory);
  }
});
