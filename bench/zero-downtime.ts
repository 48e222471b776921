// `npm run bench:zero-downtime`: the zero-downtime run of test/chaos/zero-downtime.test.ts for
// longer (BENCH_LOAD_SECONDS, default 240): two gateways and two idps behind Debian's nginx, the
// adapter, the sample monolith on MariaDB, Redis; round after round of route flips, a rolling
// restart of every replica, a signing-key rotation and a batch migration delta under steady load.
// Prints the operations and nginx's requests per kind, what failed (nothing should), and whether
// the dual-write lost an event; exits 1 if anything failed. The figures go in docs/PERFORMANCE.md.
//
//   npm run bench:zero-downtime                          # 4 minutes of load
//   BENCH_LOAD_SECONDS=60 npm run bench:zero-downtime    # a shorter one
//
// Needs MariaDB (TEST_MARIADB_URL), php with pdo_mysql, redis-server and nginx (apt-get install
// php-cli php-mysql redis-server nginx).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatCounts, totalFailed } from '../scripts/support/chaos/balancer-log.ts';
import { checkDualWrite } from '../scripts/support/chaos/dual-write.ts';
import { checkFlags } from '../scripts/support/chaos/flags.ts';
import { DEADLINE_MS, runZeroDowntime } from '../scripts/support/chaos/zero-downtime.ts';
import { mariadbProblem } from '../scripts/support/databases.ts';
import { legacyPhpUnavailableReason } from '../scripts/support/legacy-php.ts';
import { nginxProblem } from '../scripts/support/nginx.ts';
import { repoRoot } from '../scripts/support/processes.ts';
import { redisServerProblem } from '../scripts/support/redis-server.ts';

const loadSeconds = Number(process.env.BENCH_LOAD_SECONDS ?? '240');
if (!Number.isFinite(loadSeconds) || loadSeconds <= 0) throw new Error(`BENCH_LOAD_SECONDS=${process.env.BENCH_LOAD_SECONDS}: a number of seconds`);
const problem = (await mariadbProblem()) ?? (await legacyPhpUnavailableReason({ db: 'mysql' })) ?? redisServerProblem() ?? nginxProblem();
if (problem) {
  console.error(`bench:zero-downtime needs MariaDB, php with pdo_mysql, redis-server and nginx: ${problem}`);
  process.exit(2);
}

const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
// Enough users never seen by the idp for the gateway's sign-ins of the whole run (about one new one every two seconds).
const run = await runZeroDowntime({ loadMs: loadSeconds * 1000, seedUsers: 300 + Math.ceil(loadSeconds), progress: log });
const { stack, ledger } = run;
const problems: string[] = [];
try {
  const lost: string[] = [];
  const diagnostics = { diagnostic: (line: string) => log(line) };
  await checkDualWrite(diagnostics, stack, run.passwordUsers).catch((error: Error) => lost.push(error.message));
  await checkFlags(diagnostics, stack, DEADLINE_MS).catch((error: Error) => lost.push(error.message));
  const failedOperations = ledger.total('sent') - ledger.total('ok');
  const failedRequests = totalFailed(run.balancer.public) + totalFailed(run.balancer.idp);
  if (failedOperations)
    problems.push(
      `${failedOperations} operations failed or hung:\n${[...ledger.causes('unexpected'), ...ledger.causes('expected'), ...ledger.causes('hung')].join('\n')}`,
    );
  if (failedRequests) problems.push(`nginx logged ${failedRequests} failed requests`);
  if (stack.crashes().length) problems.push(`services exited on their own: ${stack.crashes().join(', ')}`);
  problems.push(...lost);
  const requests = [...run.balancer.public.values()].reduce((sum, c) => sum + c.requests, 0);
  console.log(
    [
      '',
      `zero downtime: ${run.rounds} round(s) of operations (each: 2 flips, 4 restarts, a key rotation, a migration delta) in ${(run.loadMs / 1000).toFixed(0)} s of load`,
      `${requests} requests through nginx's public listener (${(requests / (run.loadMs / 1000)).toFixed(1)}/s); restarts: ${ledger.total('ok', 'restart')}`,
      'operations by kind and outcome',
      ledger.report(),
      formatCounts('requests through nginx, public listener (browsers, the app)', run.balancer.public),
      formatCounts('requests through nginx, idp listener (the gateways)', run.balancer.idp),
      problems.length ? `FAILED:\n${problems.join('\n')}` : 'nothing failed, nothing hung, no dual-write event lost',
    ].join('\n'),
  );
  if (problems.length) {
    // What the services said, for whoever reads the failure (they log no secret; the test checks that).
    mkdirSync(join(repoRoot, 'bench/out'), { recursive: true });
    writeFileSync(join(repoRoot, 'bench/out/zero-downtime-services.log'), stack.outputs());
    console.log("the services' logs: bench/out/zero-downtime-services.log");
  }
} finally {
  await stack.stop();
}
process.exit(problems.length ? 1 : 0);
