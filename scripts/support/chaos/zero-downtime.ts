// The zero-downtime run, for its test (bounded) and its bench (longer): two gateway replicas
// behind nginx, two idp replicas (the gateways reach them through nginx too), the adapter, the
// PHP monolith on MariaDB, Redis. While the load keeps going (legacy page views, the gateway's
// sign-ins, an app's sign-ins with PKCE, its token refreshes and API calls, password changes
// that the dual-write carries to the monolith), ops do what a release and a cutover do: flip a
// route, restart every replica in turn (SIGTERM, start again, wait for /readyz), rotate the
// signing key with the keys CLI, run a batch migration delta. Round after round, until the load
// has run `loadMs`. Nothing may fail: there is no fault here, only operations.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { countRequests, type RequestCounts } from './balancer-log.ts';
import { flip } from './flags.ts';
import { Ledger } from './ledger.ts';
import { appSessions, pageViews, passwordChanges, signIns, type LoadOptions, type PasswordUser } from './load.ts';
import type { Replica } from './replica.ts';
import { APP, BALANCER_READMIT_MS, startChaosStack, type ChaosStack } from './stack.ts';

/**
 * The gateway's upstream timeout as production has it (30 s): nothing stalls in this run, and on
 * a machine shared with other test suites an idp can take seconds to hash a password; a request
 * without an answer after twice that hung.
 */
const UPSTREAM_TIMEOUT_MS = 30_000;
export const DEADLINE_MS = 2 * UPSTREAM_TIMEOUT_MS;
const PASSWORD_USERS = 30;
const APP_USERS = 20;

export interface ZeroDowntimeOptions {
  /** How long the load runs at least; the round of operations in progress is finished first. */
  loadMs: number;
  /** Users in the legacy database: enough for every fresh sign-in of the run. */
  seedUsers: number;
  /** Progress lines (operations as they happen). */
  progress?: (line: string) => void;
}

export interface ZeroDowntimeRun {
  stack: ChaosStack;
  ledger: Ledger;
  passwordUsers: PasswordUser[];
  rounds: number;
  loadMs: number;
  /** What nginx saw: the public listener (browsers, apps) and the idp listener (the gateways' calls). */
  balancer: { public: Map<string, RequestCounts>; idp: Map<string, RequestCounts> };
  /** The migration delta's reports (--json), one a round. */
  migrations: unknown[];
}

/** One round of operations, each booked in the ledger (a failed one is a failed run). */
async function round(stack: ChaosStack, ledger: Ledger, since: Date, migrations: unknown[], say: (line: string) => void): Promise<void> {
  const restart = async (replica: Replica) => {
    say(`restart ${replica.name}`);
    const { outcome, error } = await ledger.run('restart', () => replica.restart());
    // Ops would stop the rollout there: restarting the next replica would leave none.
    if (outcome !== 'ok') throw new Error(`restarting ${replica.name} failed: ${(error as Error).message}`, { cause: error });
    // nginx took it out at its refused connection; back in once fail_timeout is over.
    await sleep(BALANCER_READMIT_MS + 500);
  };
  say('flip login: shadow');
  await ledger.run('flip', () => flip(stack, 'login', { mode: 'shadow' }, 'zero-downtime: compare the logins', DEADLINE_MS));
  await restart(stack.idps[0]!);
  say('rotate the signing key');
  await ledger.run('key rotation', async () => {
    await stack.operator(['idp/cli/keys.ts', 'add-next']);
    // Every replica publishes the next key (IDP_KEYS_POLL_SECONDS=1) before it signs anything;
    // --force: the CLI's own wait is sized for relying parties' caches of minutes.
    await sleep(2_500);
    await stack.operator(['idp/cli/keys.ts', 'promote', '--force']);
  });
  await restart(stack.idps[1] ?? stack.idps[0]!);
  say('batch migration delta');
  await ledger.run('migration delta', async () => {
    const out = await stack.operator(['legacy-adapter/cli/migrate.ts', '--changed-since', since.toISOString(), '--json'], {
      LEGACY_DATABASE_URL: stack.php.db.url,
      // Through nginx's idp listener, as the gateways reach the idps: whichever replica is up.
      IDP_INTERNAL_URL: stack.idpInternalUrl,
      LEGACY_ETL_DATABASE_URL: `sqlite:${join(stack.dir, 'legacy-etl.sqlite')}`,
    });
    migrations.push(JSON.parse(out) as unknown);
  });
  await restart(stack.gateways[0]!);
  say('flip login: legacy');
  await ledger.run('flip', () => flip(stack, 'login', { mode: 'legacy' }, 'zero-downtime: back to the legacy login', DEADLINE_MS));
  await restart(stack.gateways[1] ?? stack.gateways[0]!);
}

export async function runZeroDowntime(options: ZeroDowntimeOptions): Promise<ZeroDowntimeRun> {
  const say = options.progress ?? (() => undefined);
  const stack = await startChaosStack({ seedUsers: options.seedUsers, replicas: { gateway: 2, idp: 2 }, upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS });
  try {
    const ledger = new Ledger(DEADLINE_MS);
    let running = true;
    const logins = Array.from({ length: options.seedUsers }, (_, i) => `user${String(i + 1).padStart(6, '0')}`);
    const passwordUsers: PasswordUser[] = logins.slice(-PASSWORD_USERS).map((login) => ({ login, candidates: [stack.php.seedPassword], changes: 0 }));
    const appUsers = logins.slice(-PASSWORD_USERS - APP_USERS, -PASSWORD_USERS);
    const fresh = logins.slice(0, -PASSWORD_USERS - APP_USERS);
    const load: LoadOptions = { gateway: stack.gateway, ledger, deadlineMs: DEADLINE_MS, running: () => running, seedPassword: stack.php.seedPassword };
    // Rows changed from now on (the dual-write's) are the migration delta's.
    const since = new Date(Date.now() - 1_000);
    const started = Date.now();
    const workers = [
      pageViews(load),
      pageViews(load),
      signIns(load, fresh),
      appSessions(load, APP, appUsers),
      appSessions(load, APP, [...appUsers].reverse()),
      passwordChanges(load, passwordUsers),
    ];
    const migrations: unknown[] = [];
    let rounds = 0;
    const operations = (async () => {
      await sleep(2_000);
      do {
        rounds++;
        say(`round ${rounds}`);
        await round(stack, ledger, since, migrations, say);
      } while (Date.now() - started < options.loadMs);
      // The load goes on a little after the last operation, so its effects are seen.
      await sleep(2_000);
    })();
    // Whatever happens to the operations, every worker stops before anything is reported.
    const outcome = await Promise.allSettled([operations]);
    running = false;
    const failed = [...outcome, ...(await Promise.allSettled(workers))].find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const balancer = { public: countRequests(stack.balancer!.log('access.log')), idp: countRequests(stack.balancer!.log('idp-access.log')) };
    return { stack, ledger, passwordUsers, rounds, loadMs: Date.now() - started, balancer, migrations };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
