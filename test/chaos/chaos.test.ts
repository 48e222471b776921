// The whole stack under faults, in production mode: while page views, sign-ins and password
// changes keep going through the gateway (two workers), a route is flipped, the Redis everything
// shares is killed and comes back empty, the idp is SIGKILLed and restarted, and the legacy
// database goes silent, then refuses connections. Afterwards: the flags are those the audit log
// says ops chose, every password change reached the PHP monolith, nothing hung, and every failure
// was a clean one that a fault explains. The counts per kind are printed either way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { redisServerProblem } from '../../scripts/support/redis-server.ts';
import { checkDualWrite } from '../../scripts/support/chaos/dual-write.ts';
import { checkFlags, flip } from '../../scripts/support/chaos/flags.ts';
import { Ledger } from '../../scripts/support/chaos/ledger.ts';
import { pageViews, passwordChanges, signIns, type LoadOptions, type PasswordUser } from '../../scripts/support/chaos/load.ts';
import { startChaosStack, UPSTREAM_TIMEOUT_MS, type ChaosStack } from '../../scripts/support/chaos/stack.ts';

/** A request without an answer after twice the gateway's upstream timeout hung. */
const DEADLINE_MS = 2 * UPSTREAM_TIMEOUT_MS;
const SEED_USERS = 400;
const PASSWORD_USERS = 20;
const CANARY = { mode: 'canary', percent: 5 } as const;

/** The faults, one after another, each booked in the ledger while it lasts. */
async function injectFaults(stack: ChaosStack, ledger: Ledger): Promise<void> {
  await sleep(3_000);
  await ledger.run('flip', () => flip(stack, 'api', CANARY, 'chaos: canary the API at 5%', DEADLINE_MS));
  await sleep(3_000);

  const redis = ledger.begin('Redis killed, restarted empty', true);
  await stack.redis.kill('SIGKILL');
  await sleep(1_000);
  // Ops try to roll back meanwhile: refused cleanly (and so never audited).
  await ledger.run('flip', () => flip(stack, 'api', { mode: 'legacy' }, 'chaos: roll back while Redis is down', DEADLINE_MS));
  await sleep(2_000);
  await stack.redis.start();
  ledger.end(redis);
  await sleep(5_000);

  const idp = ledger.begin('idp SIGKILLed, restarted');
  await stack.idps[0]!.stop('SIGKILL');
  await sleep(1_000);
  await stack.idps[0]!.start();
  ledger.end(idp);
  await sleep(5_000);

  const legacy = ledger.begin('legacy database silent, then refusing');
  stack.legacyDb.setMode('blackhole');
  await sleep(5_000);
  stack.legacyDb.setMode('refuse');
  await sleep(4_000);
  stack.legacyDb.setMode('open');
  ledger.end(legacy);
  // Time for the load to see everything back.
  await sleep(2 * DEADLINE_MS);
}

test('chaos: the stack stays honest through a Redis restart, an idp crash and a legacy database outage', async (t) => {
  const problem = (await mariadbProblem()) ?? (await legacyPhpUnavailableReason({ db: 'mysql' })) ?? redisServerProblem();
  if (problem) return skipLoudly(t, `MariaDB (${MARIADB_ADMIN_URL}), php with pdo_mysql, or redis-server`, problem);

  const stack = await startChaosStack({ seedUsers: SEED_USERS });
  const ledger = new Ledger(DEADLINE_MS);
  let running = true;
  const logins = Array.from({ length: SEED_USERS }, (_, i) => `user${String(i + 1).padStart(6, '0')}`);
  const passwordUsers: PasswordUser[] = logins.slice(-PASSWORD_USERS).map((login) => ({ login, candidates: [stack.php.seedPassword], changes: 0 }));
  try {
    const load: LoadOptions = { gateway: stack.gateway, ledger, deadlineMs: DEADLINE_MS, running: () => running, seedPassword: stack.php.seedPassword };
    const fresh = logins.slice(0, -PASSWORD_USERS);
    const half = PASSWORD_USERS / 2;
    const workers = [
      pageViews(load),
      pageViews(load),
      signIns(load, fresh),
      signIns(load, fresh),
      passwordChanges(load, passwordUsers.slice(0, half)),
      passwordChanges(load, passwordUsers.slice(half)),
    ];
    const faults = await Promise.allSettled([injectFaults(stack, ledger)]);
    running = false;
    // Every worker stops before anything is checked (or the stack stopped); the first to fail says why.
    const failed = [...faults, ...(await Promise.allSettled(workers))].find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    console.log(`\nchaos: operations by kind and outcome\n${ledger.report()}\nservices that exited on their own: ${JSON.stringify(stack.crashes())}\n`);

    await t.test('the load ran: every kind succeeded at least once', () => {
      for (const kind of ['page view', 'sign-in', 'password change', 'flip'] as const) assert.ok(ledger.total('ok', kind) > 0, `no ${kind} succeeded`);
    });
    await t.test('no request hung past its deadline', () => {
      assert.equal(ledger.total('hung'), 0, ledger.causes('hung').join('\n'));
    });
    await t.test('the only failures are clean, and explained by a fault', () => {
      assert.equal(ledger.total('unexpected'), 0, ledger.causes('unexpected').join('\n'));
    });
    await t.test('no service exited on its own', () => {
      assert.deepEqual(stack.crashes(), []);
    });
    await t.test('the flags are those last audited', async (st) => {
      const audited = await checkFlags(st, stack, DEADLINE_MS);
      assert.deepEqual(audited.get('api'), CANARY, 'the canary flip was audited, the refused roll-back was not');
    });
    await t.test('no dual-write event is lost', (st) => checkDualWrite(st, stack, passwordUsers));
    await t.test('every Redis connection has an error listener: no "Unhandled error event" in any log', () => {
      const unhandled = stack
        .outputs()
        .split('\n')
        .filter((line) => line.includes('Unhandled error event'));
      assert.equal(unhandled.length, 0, unhandled.slice(0, 3).join('\n'));
    });
    await t.test('no password in any log', () => {
      const passwords = [stack.php.seedPassword, ...passwordUsers.flatMap((u) => u.candidates)];
      const output = stack.outputs();
      assert.deepEqual(
        passwords.filter((p) => output.includes(p)),
        [],
      );
    });
  } finally {
    running = false;
    await stack.stop();
  }
});
