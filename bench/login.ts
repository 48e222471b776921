/**
 * npm run bench:login — login figures on this machine (reported, not asserted):
 *  1. verify time per stored scheme (fixture hashes PHP wrote, and PBKDF2 at the policy);
 *  2. logins per second at saturation against the limit PBKDF2 sets (cores / cost of one hash);
 *  3. the event loop's p99 delay during that login storm (hashing runs off the loop).
 * Options (environment): BENCH_SECONDS (storm length, default 10), BENCH_CONCURRENCY (default
 * 4 x cores), PBKDF2_ITERATIONS (default 600000). Results in docs/PERFORMANCE.md.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createDatabase, migrate } from '../lib/db.ts';
import { createLogger } from '../lib/logger.ts';
import { closePasswordWorkers, hashPassword, verifyPassword, type Pbkdf2Policy } from '../lib/passwords/index.ts';
import { createLegacyAdapterClient } from '../idp/adapter-client/client.ts';
import { createLoginService } from '../idp/login/index.ts';
import { idpMigrations } from '../idp/store/migrations/index.ts';
import { createUserStore } from '../idp/users/store.ts';

const PASSWORD = 'correct horse battery staple';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const cores = availableParallelism();
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? cores * 4);
const policy: Pbkdf2Policy = { iterations: Number(process.env.PBKDF2_ITERATIONS ?? 600_000), keyLength: 32, saltLength: 16 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function timeIt(fn: () => Promise<unknown>, budgetMs = 1500, maxRuns = 200): Promise<number> {
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < budgetMs && times.length < maxRuns)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

console.log(
  `# login bench: ${cpus()[0]?.model ?? 'cpu'}, ${cores} cores, node ${process.version}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
);
console.log(`# PBKDF2 policy: ${policy.iterations} iterations\n`);

// 1. Verify time per scheme, one call at a time.
const fixtures = (
  JSON.parse(readFileSync(new URL('../test/fixtures/legacy-hashes.json', import.meta.url), 'utf8')) as {
    scheme: string;
    password: string;
    hash: string;
    salt: string | null;
  }[]
).filter((v) => v.password === PASSWORD);
const pbkdf2Hash = await hashPassword(PASSWORD, policy);
console.log('| scheme | verify, median ms |\n| --- | --- |');
for (const v of [{ scheme: `pbkdf2-sha256 (i=${policy.iterations})`, hash: pbkdf2Hash, salt: null }, ...fixtures]) {
  const candidates = v.scheme.includes('(') || /^(md5|sha1|sha256)$/.test(v.scheme) ? [v.scheme] : [];
  const ms = await timeIt(() => verifyPassword(PASSWORD, { hash: v.hash, salt: v.salt }, { candidates: v.scheme.startsWith('pbkdf2') ? [] : candidates }));
  console.log(`| ${v.scheme} | ${ms < 1 ? ms.toFixed(3) : ms.toFixed(1)} |`);
}

// 2 + 3. A login storm through the real login service and user store (SQLite file).
const dir = mkdtempSync(join(tmpdir(), 'idm-bench-'));
const knex = createDatabase(`sqlite:${join(dir, 'idp.sqlite')}`);
try {
  await migrate(knex, idpMigrations);
  const users = createUserStore(knex);
  const accounts = 32;
  await Promise.all(
    Array.from({ length: accounts }, async (_, i) =>
      users.insertFromLegacy({
        legacyId: `b${i}`,
        username: `bench${i}`,
        email: null,
        name: null,
        passwordHash: await hashPassword(PASSWORD, policy),
        passwordScheme: 'pbkdf2-sha256',
        legacyFingerprint: null,
      }),
    ),
  );
  const login = createLoginService({
    users,
    legacy: createLegacyAdapterClient({ baseUrl: 'http://127.0.0.1:9', secret: 'unused', timeoutMs: 1000 }),
    policy,
    logger: createLogger('bench', 'silent'),
  });
  // The cost of one hash, alone: the saturation limit is cores / cost.
  const single = await timeIt(() => login.login('bench0', PASSWORD), 3000, 20);
  const limit = (Math.min(cores, Number(process.env.UV_THREADPOOL_SIZE ?? 4)) * 1000) / single;
  const coreLimit = (cores * 1000) / single;

  const loop = monitorEventLoopDelay({ resolution: 5 });
  let done = 0;
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  loop.enable();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let n = worker; performance.now() < until; n += concurrency) {
        const outcome = await login.login(`bench${n % accounts}`, PASSWORD);
        if (outcome.ok) done++;
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  loop.disable();
  const rate = done / elapsed;
  console.log(`\n| figure | value |\n| --- | --- |`);
  console.log(`| one login alone (PBKDF2 verify + store read), median | ${single.toFixed(1)} ms |`);
  console.log(
    `| limit = cores / cost per hash | ${coreLimit.toFixed(1)} logins/s (${cores} cores${limit < coreLimit ? `; libuv pool caps it at ${limit.toFixed(1)}` : ''}) |`,
  );
  console.log(
    `| logins/s at saturation (${concurrency} concurrent, ${elapsed.toFixed(1)} s) | ${rate.toFixed(1)} (${((100 * rate) / coreLimit).toFixed(0)}% of the limit), ${failed} failed |`,
  );
  console.log(
    `| event-loop delay during the storm: p50 / p99 / max | ${(loop.percentile(50) / 1e6).toFixed(1)} / ${(loop.percentile(99) / 1e6).toFixed(1)} / ${(loop.max / 1e6).toFixed(1)} ms |`,
  );
} finally {
  await knex.destroy();
  await closePasswordWorkers();
  rmSync(dir, { recursive: true, force: true });
}
