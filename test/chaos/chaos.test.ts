// The whole stack under faults, in production mode: while page views, sign-ins and password
// changes keep going through the gateway (two workers), a route is flipped, the Redis everything
// shares is killed and comes back empty, the idp is SIGKILLed and restarted, and the legacy
// database goes silent, then refuses connections. Afterwards: the flags are those the audit log
// says ops chose, every password change reached the PHP monolith, nothing hung, and every failure
// was a clean one that a fault explains. The counts per kind are printed either way.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyPassword } from '../../lib/passwords/index.ts';
import { mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { LegacyBrowser, legacyPhpUnavailableReason } from '../support/legacy-php.ts';
import { redisServerProblem } from '../support/redis-server.ts';
import { adminRequest } from './agent.ts';
import { StepFailed } from './flows.ts';
import { Ledger } from './ledger.ts';
import { pageViews, passwordChanges, signIns, type LoadOptions, type PasswordUser } from './load.ts';
import { startChaosStack, UPSTREAM_TIMEOUT_MS, type ChaosStack } from './stack.ts';

/** A request without an answer after twice the gateway's upstream timeout hung. */
const DEADLINE_MS = 2 * UPSTREAM_TIMEOUT_MS;
const SEED_USERS = 400;
const PASSWORD_USERS = 20;
const CANARY = { mode: 'canary', percent: 5 } as const;

interface FlagView {
  name: string;
  mode: string;
  percent: number | null;
}

async function flip(stack: ChaosStack, route: string, to: { mode: string; percent?: number }, reason: string): Promise<void> {
  const answer = await adminRequest(stack.gateway, stack.adminToken, 'PUT', `/admin/api/routes/${route}/flag`, { ...to, reason, actor: 'chaos test' }, DEADLINE_MS);
  if (answer.status !== 200) throw new StepFailed(`PUT /admin/api/routes/${route}/flag`, answer);
}

/** The faults, one after another, each booked in the ledger while it lasts. */
async function injectFaults(stack: ChaosStack, ledger: Ledger): Promise<void> {
  await sleep(3_000);
  await ledger.run('flip', () => flip(stack, 'api', CANARY, 'chaos: canary the API at 5%'));
  await sleep(3_000);

  const redis = ledger.begin('Redis killed, restarted empty', true);
  await stack.redis.kill('SIGKILL');
  await sleep(1_000);
  // Ops try to roll back meanwhile: refused cleanly (and so never audited).
  await ledger.run('flip', () => flip(stack, 'api', { mode: 'legacy' }, 'chaos: roll back while Redis is down'));
  await sleep(2_000);
  await stack.redis.start();
  ledger.end(redis);
  await sleep(5_000);

  const idp = ledger.begin('idp SIGKILLed, restarted');
  await stack.killIdp();
  await sleep(1_000);
  await stack.startIdp();
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

/** Waits until the outbox has nothing left to relay (the relay retries on its own); the rows then. */
async function drainedOutbox(stack: ChaosStack): Promise<Array<{ status: string; n: number }>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = (await stack.idpDb('legacy_outbox').select('status').count({ n: '*' }).groupBy('status')) as Array<{ status: string; n: number | string }>;
    const byStatus = rows.map((r) => ({ status: r.status, n: Number(r.n) }));
    if (!byStatus.some((r) => r.status === 'pending') || Date.now() > deadline) return byStatus;
    await sleep(250);
  }
}

/** The password the idp holds for `user`, among the ones it may hold. */
async function idpPassword(stack: ChaosStack, user: PasswordUser): Promise<string | undefined> {
  const row = (await stack.idpDb('users').where({ username: user.login }).first('password_hash')) as { password_hash: string } | undefined;
  for (const candidate of user.candidates) if (row && (await verifyPassword(candidate, { hash: row.password_hash })).ok) return candidate;
  return undefined;
}

async function checkFlags(t: TestContext, stack: ChaosStack): Promise<void> {
  const audit = await adminRequest(stack.gateway, stack.adminToken, 'GET', '/admin/api/audit?limit=500', undefined, DEADLINE_MS);
  assert.equal(audit.status, 200, audit.body);
  const audited = new Map<string, { mode: string; percent?: number }>();
  // Newest first: the first entry of a route is what ops chose last.
  for (const entry of (JSON.parse(audit.body) as { entries: Array<{ route: string; to: { mode: string; percent?: number } }> }).entries) {
    if (!audited.has(entry.route)) audited.set(entry.route, entry.to);
  }
  assert.deepEqual(audited.get('api'), CANARY, 'the canary flip was audited, the refused roll-back was not');
  // Several calls in a row: each worker of the gateway answers some.
  for (let call = 0; call < 4; call++) {
    const answer = await adminRequest(stack.gateway, stack.adminToken, 'GET', '/admin/api/routes', undefined, DEADLINE_MS);
    assert.equal(answer.status, 200, answer.body);
    const served = (JSON.parse(answer.body) as { routes: FlagView[] }).routes;
    for (const [route, chosen] of audited) {
      const view = served.find((r) => r.name === route);
      const actual = view ? { mode: view.mode, ...(view.percent === null ? {} : { percent: view.percent }) } : undefined;
      assert.deepEqual(actual, chosen, `route ${route} (call ${call + 1}): the gateway serves ${JSON.stringify(view)}, the audit log's last flip says ${JSON.stringify(chosen)}`);
    }
  }
  t.diagnostic(`audited routes: ${JSON.stringify(Object.fromEntries(audited))}`);
}

async function checkDualWrite(t: TestContext, stack: ChaosStack, users: PasswordUser[]): Promise<void> {
  const outbox = await drainedOutbox(stack);
  t.diagnostic(`outbox after the run: ${JSON.stringify(outbox)}`);
  const lost: string[] = [];
  let checked = 0;
  for (const user of users.filter((u) => u.changes > 0 || u.candidates.length > 1)) {
    const held = await idpPassword(stack, user);
    if (held === undefined) {
      lost.push(`${user.login}: the idp holds none of the passwords the test set`);
      continue;
    }
    checked++;
    const php = await new LegacyBrowser(stack.php.url).login(user.login, held);
    if (php.status !== 302 || !php.location?.pathname.endsWith('account.php')) lost.push(`${user.login}: the PHP site refuses the password the idp holds (after ${user.changes} confirmed changes)`);
  }
  t.diagnostic(`password users checked on the PHP site: ${checked}`);
  assert.deepEqual(lost, [], 'every password change reached the PHP site');
  assert.deepEqual(outbox.filter((r) => r.status !== 'relayed'), [], 'every outbox event relayed (none pending, none given up)');
  // One event per change the idp confirmed, and at most one more per change whose answer was lost.
  const relayed = outbox.find((r) => r.status === 'relayed')?.n ?? 0;
  const confirmed = users.reduce((sum, u) => sum + u.changes, 0);
  const unsure = users.reduce((sum, u) => sum + u.candidates.length - 1, 0);
  assert.ok(relayed >= confirmed && relayed <= confirmed + unsure, `${relayed} events relayed for ${confirmed} confirmed changes and ${unsure} unsure ones`);
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
    const workers = [pageViews(load), pageViews(load), signIns(load, fresh), signIns(load, fresh), passwordChanges(load, passwordUsers.slice(0, half)), passwordChanges(load, passwordUsers.slice(half))];
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
    await t.test('the flags are those last audited', (st) => checkFlags(st, stack));
    await t.test('no dual-write event is lost', (st) => checkDualWrite(st, stack, passwordUsers));
    await t.test('no password in any log', () => {
      const passwords = [stack.php.seedPassword, ...passwordUsers.flatMap((u) => u.candidates)];
      const output = stack.outputs();
      assert.deepEqual(passwords.filter((p) => output.includes(p)), []);
    });
  } finally {
    running = false;
    await stack.stop();
  }
});
