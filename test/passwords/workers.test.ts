import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  closePasswordWorkers,
  configurePasswordWorkers,
  DEFAULT_WORKER_QUEUE_DEPTH,
  PasswordWorkersBusyError,
  verifyPassword,
} from '../../lib/passwords/index.ts';
import { libuvGate } from '../../lib/passwords/workers/gate.ts';
import { WorkerPool, workerUrlBeside } from '../../lib/passwords/workers/pool.ts';
import { legacyVectors } from './support/fixtures.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
// 2^16 md5 rounds: long enough to watch the event loop while it runs.
const SLOW_PHPASS = '$P$Fabcdefgh' + 'a'.repeat(22);

test('the worker entry keeps the extension of the module that starts it', () => {
  assert.equal(workerUrlBeside('file:///app/lib/passwords/workers/pool.ts').href, 'file:///app/lib/passwords/workers/worker.ts');
  assert.equal(workerUrlBeside('file:///app/dist/lib/passwords/workers/pool.js').href, 'file:///app/dist/lib/passwords/workers/worker.js');
});

test('hand-written slow hashes leave the event loop free', async () => {
  let turns = 0;
  let done = false;
  const spin = (): void => {
    turns++;
    if (!done) setImmediate(spin);
  };
  setImmediate(spin);
  const result = await verifyPassword('pw', { hash: SLOW_PHPASS });
  done = true;
  assert.equal(result.reason, 'mismatch');
  // Computed on this thread, the hash would finish before a single setImmediate callback ran.
  assert.ok(turns > 10, `only ${turns} event-loop turns while hashing`);
});

test('more jobs than threads queue up and each gets its own answer', async () => {
  const slow = legacyVectors.filter((v) => /^(crypt-md5|crypt-sha|phpass)/.test(v.scheme));
  const results = await Promise.all(slow.flatMap((v) => [verifyPassword(v.password, v), verifyPassword(`${v.password}!`, { hash: v.hash })]));
  results.forEach((r, i) => assert.equal(r.ok, i % 2 === 0, `${slow[Math.floor(i / 2)]?.hash}`));
});

test('closePasswordWorkers rejects work in flight, and the pool starts again afterwards', async () => {
  const inFlight = assert.rejects(verifyPassword('pw', { hash: SLOW_PHPASS }), /closed/);
  await closePasswordWorkers();
  await inFlight;
  const vector = legacyVectors.find((v) => v.scheme === 'crypt-md5') ?? assert.fail('no crypt-md5 fixture');
  assert.equal((await verifyPassword(vector.password, vector)).ok, true);
});

test('a failing job rejects without killing its thread, and a missing worker file rejects', async () => {
  const pool = new WorkerPool(1, workerUrlBeside(new URL('../../lib/passwords/workers/pool.ts', import.meta.url).href));
  await assert.rejects(pool.run({ algorithm: 'phpass', password: Buffer.from('pw'), setting: 'nonsense' }), /not a valid phpass setting/);
  assert.match(await pool.run({ algorithm: 'md5-crypt', password: Buffer.from('pw'), setting: '$1$salt$' }), /^\$1\$salt\$/);
  await pool.close();

  const broken = new WorkerPool(1, new URL('./no-such-worker.ts', import.meta.url));
  await assert.rejects(broken.run({ algorithm: 'md5-crypt', password: Buffer.from('pw'), setting: '$1$salt$' }));
  await broken.close();
});

test('past its queue depth the pool refuses at once with a typed error, and takes work again once there is room', async () => {
  const pool = new WorkerPool(1, workerUrlBeside(new URL('../../lib/passwords/workers/pool.ts', import.meta.url).href), 1);
  try {
    const job = { algorithm: 'phpass', password: Buffer.from('pw'), setting: SLOW_PHPASS } as const;
    const running = pool.run(job);
    const waiting = pool.run(job);
    await assert.rejects(pool.run(job), (error: unknown) => error instanceof PasswordWorkersBusyError && error.code === 'password-workers-busy');
    await Promise.all([running, waiting]);
    assert.match(await pool.run(job), /^\$P\$F/);
    pool.maxQueue = 0;
    const alone = pool.run(job);
    await assert.rejects(pool.run(job), PasswordWorkersBusyError);
    await alone;
    assert.throws(() => (pool.maxQueue = -1), RangeError);
  } finally {
    await pool.close();
  }
});

test("hashing on libuv's pool (bcrypt, argon2, PBKDF2) is bounded the same way", async () => {
  const bcrypt = legacyVectors.find((v) => v.scheme === 'bcrypt-2y') ?? assert.fail('no bcrypt-2y fixture');
  configurePasswordWorkers({ maxQueue: 0 });
  try {
    // Every call reaches the gate before its first await, so exactly one is past the threads.
    const results = await Promise.allSettled(Array.from({ length: libuvGate.threads + 1 }, () => verifyPassword(bcrypt.password, bcrypt)));
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(refused.length, 1);
    assert.ok(refused[0]?.status === 'rejected' && refused[0].reason instanceof PasswordWorkersBusyError);
    assert.ok(results.every((r) => r.status === 'rejected' || r.value.ok));
    assert.equal((await verifyPassword(bcrypt.password, bcrypt)).ok, true, 'the gate lets work in again once there is room');
  } finally {
    configurePasswordWorkers({ maxQueue: DEFAULT_WORKER_QUEUE_DEPTH });
  }
});

test('compiled to JavaScript (as in dist/), the registry finds worker.js and verifies', async () => {
  mkdirSync(join(repoRoot, 'test-artifacts'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, 'test-artifacts', 'passwords-dist-'));
  try {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.json',
        compilerOptions: { noEmit: false, outDir: 'out', rootDir: '../..' },
        include: [],
        // worker.ts is loaded by URL, not imported, so a build must name it (tsconfig.build.json
        // does, by including all of lib/).
        files: ['../../lib/passwords/index.ts', '../../lib/passwords/workers/worker.ts'],
      }),
    );
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')]);
    const vector = legacyVectors.find((v) => v.scheme === 'crypt-sha512') ?? assert.fail('no crypt-sha512 fixture');
    const script = `import { verifyPassword } from './out/lib/passwords/index.js';
      const result = await verifyPassword(${JSON.stringify(vector.password)}, { hash: ${JSON.stringify(vector.hash)} });
      process.stdout.write(JSON.stringify(result));`;
    writeFileSync(join(dir, 'check.mjs'), script);
    const output = execFileSync(process.execPath, [join(dir, 'check.mjs')], { cwd: dir, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(output), { ok: true, scheme: 'crypt-sha512', needsRehash: true, encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
