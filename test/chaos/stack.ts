// The whole stack as production runs it (NODE_ENV=production, MariaDB, Redis, a signing key made
// by the operator's CLI), on the sources, with three handles the chaos test pulls: a Redis of its
// own to kill, an idp to SIGKILL and restart on the same port, and a TCP proxy between the
// legacy-adapter and the legacy database to cut.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, type Knex } from '../../lib/db.ts';
import { createMariaDbDatabase, type TestDatabase } from '../../scripts/support/databases.ts';
import { startLegacyPhp, type LegacyPhp } from '../support/legacy-php.ts';
import { freePort, repoRoot, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { startOwnRedis, type OwnRedis } from '../support/redis-server.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { CLIENT_SECRET, CLIENT_SECRET_KEY, clientsYaml, COOKIE_SECRET, IDP_SECRET } from '../support/stack.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET, startAdapterProcess } from '../support/legacy-adapter.ts';

/** The site's public origin: browsers (the test's agents) reach it at the gateway with X-Forwarded-Proto: https. */
export const PUBLIC_URL = 'https://login.example.test';
/** Low, so that a stalled dependency shows within the test's time; agents call a request hung at twice this. */
export const UPSTREAM_TIMEOUT_MS = 4_000;

export interface ChaosStack {
  gateway: string;
  adminToken: string;
  php: LegacyPhp;
  redis: OwnRedis;
  legacyDb: TcpProxy;
  idpDb: Knex;
  /** SIGKILLs the idp; `startIdp` brings it back on the same port. */
  killIdp(): Promise<void>;
  startIdp(): Promise<void>;
  /** Services that exited without the test asking, e.g. `idp exited (1)`. */
  crashes(): string[];
  outputs(): string;
  stop(): Promise<void>;
}

const secret = () => randomBytes(30).toString('base64url');


function operatorStep(args: string[], env: Record<string, string>): void {
  const run = spawnSync(process.execPath, args, { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${args.join(' ')} failed (${run.status}): ${run.stdout}${run.stderr}`);
}

export async function startChaosStack(options: { seedUsers: number }): Promise<ChaosStack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.warn(`chaos stack cleanup: ${(error as Error).message}`));
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'idm-chaos-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const db: TestDatabase = await createMariaDbDatabase('idm_chaos');
    cleanups.push(() => db.drop());
    const php = await startLegacyPhp({ db: 'mysql', seedUsers: options.seedUsers, workers: 6 });
    cleanups.push(() => php.stop());
    const redis = await startOwnRedis();
    cleanups.push(() => redis.stop());
    const mysql = php.db.mysql!;
    const legacyDb = await startTcpProxy({ host: mysql.host, port: mysql.port });
    cleanups.push(() => legacyDb.close());
    const legacyUrl = new URL(php.db.url);
    legacyUrl.port = String(legacyDb.port);

    const clients = join(dir, 'clients.yaml');
    writeFileSync(clients, clientsYaml(PUBLIC_URL));
    const adminToken = secret();
    const common = {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'chaos:',
      IDP_ISSUER: PUBLIC_URL,
      IDP_INTERNAL_SECRET: IDP_SECRET,
      LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
      LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
      LEGACY_SESSION_NAME: php.sessionName,
    };
    const idpEnv = {
      ...common,
      IDP_CLIENTS_FILE: clients,
      IDP_CLIENT_SECRET_KEY: CLIENT_SECRET_KEY,
      IDP_INTERACTION_SECRET: secret(),
      IDP_REGISTRATION_ACCESS_TOKEN: secret(),
      IDP_KEY_ENCRYPTION_KEY: secret(),
      IDP_COOKIE_KEYS: secret(),
      // The lowest production allows: the machine has two cores for everything.
      PBKDF2_ITERATIONS: '100000',
      // Shorter than the gateway's timeout, so the idp's own answer to a stalled adapter gets through.
      LEGACY_ADAPTER_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS / 2),
      IDP_DUAL_WRITE_BCRYPT_COST: '4',
      IDP_DUAL_WRITE_POLL_MS: '200',
      IDP_DUAL_WRITE_RETRY_BASE_MS: '100',
      IDP_DUAL_WRITE_RETRY_MAX_MS: '1000',
      // Every agent signs in from its own address; these limits are not what is tested here.
      IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: '100000',
    };
    for (const step of [['idp/store/migrate-cli.ts'], ['idp/cli/keys.ts', 'add-next'], ['idp/cli/keys.ts', 'promote']]) operatorStep(step, idpEnv);

    const adapter = await startAdapterProcess(php, { NODE_ENV: 'production', LEGACY_DATABASE_URL: legacyUrl.href });
    cleanups.push(() => adapter.stop());
    const idpPort = await freePort();
    let idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', { ...idpEnv, LEGACY_ADAPTER_URL: adapter.url }, idpPort);
    cleanups.push(() => idp.stop());
    const gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
      ...common,
      GATEWAY_WORKERS: '2',
      // The shipped route table: it sends the idp's account pages (the password change) to the idp.
      GATEWAY_ROUTES_FILE: join(repoRoot, 'gateway/routes.yaml'),
      GATEWAY_FLAG_RELOAD_MS: '2000',
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
      GATEWAY_ADMIN_TOKEN: adminToken,
      GATEWAY_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      GATEWAY_AUTH_COOKIE_SECRET: COOKIE_SECRET,
      LEGACY_UPSTREAM_URL: php.url,
      LEGACY_HEALTH_PATH: '/api/health.php',
      IDP_UPSTREAM_URL: `http://127.0.0.1:${idpPort}`,
      LEGACY_ADAPTER_URL: adapter.url,
    });
    cleanups.push(() => gateway.stop());
    const idpDb = createDatabase(db.url, { pool: { min: 0, max: 2 } });
    cleanups.push(() => idpDb.destroy());

    let idpOutputs = '';
    const crashes: string[] = [];
    const killedOnPurpose = new Set<SpawnedService>();
    let stopping = false;
    const watch = (name: string, service: SpawnedService) =>
      void service.exited.then((code) => {
        if (!stopping && !killedOnPurpose.has(service)) crashes.push(`${name} exited (${code})`);
      });
    watch('gateway', gateway);
    watch('legacy-adapter', adapter);
    watch('idp', idp);
    return {
      gateway: gateway.url,
      adminToken,
      php,
      redis,
      legacyDb,
      idpDb,
      async killIdp() {
        idpOutputs += idp.output();
        killedOnPurpose.add(idp);
        await idp.stop('SIGKILL');
      },
      async startIdp() {
        idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', { ...idpEnv, LEGACY_ADAPTER_URL: adapter.url }, idpPort);
        watch('idp', idp);
      },
      crashes: () => [...crashes],
      outputs: () => [gateway.output(), adapter.output(), idpOutputs, idp.output()].join('\n'),
      async stop() {
        stopping = true;
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
