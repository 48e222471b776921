// Zero downtime, shown under load (zero-downtime.ts): through route flips, a rolling restart of
// every idp and gateway replica behind nginx, a signing-key rotation and a batch migration delta,
// not one request of the load fails or hangs, no replica has to cut a request, and no dual-write
// event is lost. The counts per kind (operations, and requests as nginx saw them) are printed.
// ZERO_DOWNTIME_LOAD_SECONDS sets how long the load runs at least (default 30; the operations
// take about that long for one round); `npm run bench:zero-downtime` is the longer run.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NGINX_TEMPLATE, nginxProblem, renderBalancerConf } from '../../scripts/support/nginx.ts';
import { mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { redisServerProblem } from '../../scripts/support/redis-server.ts';
import { formatCounts, totalFailed } from '../../scripts/support/chaos/balancer-log.ts';
import { checkDualWrite } from '../../scripts/support/chaos/dual-write.ts';
import { checkFlags } from '../../scripts/support/chaos/flags.ts';
import { DEADLINE_MS, runZeroDowntime } from '../../scripts/support/chaos/zero-downtime.ts';

const LOAD_SECONDS = Number(process.env.ZERO_DOWNTIME_LOAD_SECONDS ?? '30');

test('zero downtime: route flips, a rolling restart of every replica, a key rotation and a migration delta lose no request', async (t) => {
  const problem = (await mariadbProblem()) ?? (await legacyPhpUnavailableReason({ db: 'mysql' })) ?? redisServerProblem() ?? nginxProblem();
  if (problem) return skipLoudly(t, `MariaDB (${MARIADB_ADMIN_URL}), php with pdo_mysql, redis-server or nginx`, problem);
  assert.ok(Number.isFinite(LOAD_SECONDS) && LOAD_SECONDS > 0, `ZERO_DOWNTIME_LOAD_SECONDS=${process.env.ZERO_DOWNTIME_LOAD_SECONDS}: a number of seconds`);

  const run = await runZeroDowntime({ loadMs: LOAD_SECONDS * 1000, seedUsers: 300, progress: (line) => t.diagnostic(line) });
  const { stack, ledger } = run;
  try {
    console.log(
      [
        `\nzero downtime: ${run.rounds} round(s) of operations in ${(run.loadMs / 1000).toFixed(0)} s of load`,
        'operations by kind and outcome',
        ledger.report(),
        formatCounts('requests through nginx, public listener (browsers, the app)', run.balancer.public),
        formatCounts('requests through nginx, idp listener (the gateways)', run.balancer.idp),
        `migration deltas: ${JSON.stringify(run.migrations)}`,
        `services that exited on their own: ${JSON.stringify(stack.crashes())}\n`,
      ].join('\n'),
    );

    await t.test('the balancer runs the shipped nginx template', () => {
      assert.equal(readFileSync(`${stack.balancer!.dir}/nginx.conf`, 'utf8'), renderBalancerConf(stack.balancerValues!), `rendered from ${NGINX_TEMPLATE}`);
    });
    await t.test('the load ran: every kind succeeded, every replica was restarted', () => {
      for (const kind of [
        'page view',
        'sign-in',
        'app sign-in',
        'token refresh',
        'api call',
        'password change',
        'flip',
        'key rotation',
        'migration delta',
      ] as const) {
        assert.ok(ledger.total('ok', kind) > 0, `no ${kind} succeeded`);
      }
      assert.equal(ledger.total('ok', 'restart'), run.rounds * (stack.idps.length + stack.gateways.length));
    });
    await t.test('nginx saw no request fail', () => {
      const failedLines = (['access.log', 'idp-access.log'] as const).flatMap((name) =>
        stack
          .balancer!.log(name)
          .split('\n')
          .filter((line) => /" (5\d\d|499) /.test(line)),
      );
      const errors = stack
        .balancer!.log('error.log')
        .split('\n')
        .filter((line) => line && !line.includes('(111: Connection refused)'))
        .slice(-30);
      assert.equal(
        totalFailed(run.balancer.public) + totalFailed(run.balancer.idp),
        0,
        `${failedLines.join('\n')}\nnginx's errors but refused connections (a replica restarting):\n${errors.join('\n')}`,
      );
    });
    await t.test('no operation of the load failed and none hung', () => {
      assert.equal(ledger.total('hung'), 0, ledger.causes('hung').join('\n'));
      assert.equal(ledger.total('unexpected') + ledger.total('expected'), 0, [...ledger.causes('unexpected'), ...ledger.causes('expected')].join('\n'));
    });
    await t.test('no service exited on its own', () => {
      assert.deepEqual(stack.crashes(), []);
    });
    await t.test('both gateways serve the flags last audited', async (st) => {
      const audited = await checkFlags(st, stack, DEADLINE_MS);
      assert.deepEqual(audited.get('login'), { mode: 'legacy' });
    });
    await t.test('no dual-write event is lost', (st) => checkDualWrite(st, stack, run.passwordUsers));
    await t.test('no password in any log', () => {
      const passwords = [stack.php.seedPassword, ...run.passwordUsers.flatMap((u) => u.candidates)];
      const output = stack.outputs();
      assert.deepEqual(
        passwords.filter((p) => output.includes(p)),
        [],
      );
    });
  } finally {
    await stack.stop();
  }
});
