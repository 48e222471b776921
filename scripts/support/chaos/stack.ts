// The whole stack as production runs it (NODE_ENV=production, MariaDB, Redis, a signing key made
// by the operator's CLI), on the sources, with the handles the chaos and zero-downtime tests pull:
// a Redis of its own to kill, a TCP proxy between the legacy-adapter and the legacy database to
// cut, and replicas of the idp and the gateway to kill or restart on their ports. With several
// replicas, Debian's nginx balances them with the shipped deploy/nginx template: browsers reach
// its public listener, the gateways reach the idps through its internal one.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderBalancerConf, startNginx, type BalancerValues, type RunningNginx } from '../nginx.ts';
import { createDatabase, type Knex } from '../../../lib/db.ts';
import { createMariaDbDatabase, type TestDatabase } from '../databases.ts';
import { startLegacyPhp, type LegacyPhp } from '../legacy-php.ts';
import { freePort, repoRoot, type SpawnedService } from '../processes.ts';
import { startOwnRedis, type OwnRedis } from '../redis-server.ts';
import { startTcpProxy, type TcpProxy } from '../tcp-proxy.ts';
import { CLIENT_SECRET, CLIENT_SECRET_KEY, clientsYaml, COOKIE_SECRET, IDP_SECRET } from '../stack.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET, startAdapterProcess } from '../legacy-adapter.ts';
import { Replica } from './replica.ts';
import { randomSecret } from '../production-secrets.ts';

/** The site's public origin: browsers (the test's agents) reach it at the gateway with X-Forwarded-Proto: https. */
export const PUBLIC_URL = 'https://login.example.test';
/** Low, so that a stalled dependency shows within the test's time; agents call a request hung at twice this. */
export const UPSTREAM_TIMEOUT_MS = 4_000;
/** The API the app's tokens are for: the shipped resources file's Demo API, the shipped `api` route's audience. */
export const API_AUDIENCE = 'http://localhost:3000/api';
/** A native app of the test's (public client, PKCE) that signs users in and calls the API with their tokens. */
export const APP = { clientId: 'zdt-app', redirectUri: 'http://127.0.0.1/callback', scope: 'openid offline_access api:read' };
/**
 * How long a replica keeps answering once told SIGTERM: above the shipped nginx template's
 * upstream keepalive_timeout (2 s), as the template asks.
 */
export const SHUTDOWN_DELAY_MS = 3_000;
/** The template's fail_timeout: how long nginx leaves a replica alone after a refused connection. */
export const BALANCER_READMIT_MS = 2_000;

export interface ChaosStackOptions {
  seedUsers: number;
  /** Gateway and idp replicas (default one each, no balancer); more than one puts nginx in front. */
  replicas?: { gateway: number; idp: number };
  /** The gateway's UPSTREAM_TIMEOUT_MS (default UPSTREAM_TIMEOUT_MS, low for the chaos test's stalls). */
  upstreamTimeoutMs?: number;
}

export interface ChaosStack {
  /** Where browsers go: the gateway, or nginx's public listener in front of the gateways. */
  gateway: string;
  adminToken: string;
  php: LegacyPhp;
  redis: OwnRedis;
  legacyDb: TcpProxy;
  idpDb: Knex;
  idps: Replica[];
  gateways: Replica[];
  adapter: SpawnedService;
  /** Where the idp's own API is reached (the batch migration's IDP_INTERNAL_URL): nginx's idp listener, or the one idp. */
  idpInternalUrl: string;
  /** A directory of the stack's, removed by stop(). */
  dir: string;
  balancer: RunningNginx | undefined;
  /** What the shipped nginx template was rendered with. */
  balancerValues: BalancerValues | undefined;
  /** Runs an operator's command (the keys CLI, the batch migration) with the idp's environment and `env`. */
  operator(args: string[], env?: Record<string, string>): Promise<string>;
  /** Services that exited without the test asking, e.g. `idp-1 exited (1)`. */
  crashes(): string[];
  outputs(): string;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const secret = randomSecret;

/** An operator's command in its own process, awaited (never spawnSync: the load runs in this process). */
async function operatorStep(args: string[], env: Record<string, string>): Promise<string> {
  try {
    return (await execFileAsync(process.execPath, args, { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' })).stdout;
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`${args.join(' ')} failed (${code}): ${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}

/** The shipped clients file's gateway and offline-app, and the test's own app. */
function clients(): string {
  return `${clientsYaml(PUBLIC_URL)}  - client_id: ${APP.clientId}
    application_type: native
    token_endpoint_auth_method: none
    redirect_uris: ["${APP.redirectUri}"]
    response_types: [code]
    grant_types: [authorization_code, refresh_token]
    scope: ${APP.scope}
`;
}

export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const replicas = options.replicas ?? { gateway: 1, idp: 1 };
  const balanced = replicas.gateway > 1 || replicas.idp > 1;
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? UPSTREAM_TIMEOUT_MS;
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse())
      await cleanup().catch((error: unknown) => console.warn(`chaos stack cleanup: ${(error as Error).message}`));
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'idm-chaos-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const db: TestDatabase = await createMariaDbDatabase('idm_chaos');
    cleanups.push(() => db.drop());
    // The monolith believes X-Remote-User from the gateway (the shipped `api` route names the token's user in it).
    const php = await startLegacyPhp({
      db: 'mysql',
      seedUsers: options.seedUsers,
      workers: 6,
      env: { LEGACY_TRUSTED_USER_HEADER: 'X-Remote-User', LEGACY_TRUSTED_PROXIES: '127.0.0.1' },
    });
    cleanups.push(() => php.stop());
    const redis = await startOwnRedis();
    cleanups.push(() => redis.stop());
    const mysql = php.db.mysql!;
    const legacyDb = await startTcpProxy({ host: mysql.host, port: mysql.port });
    cleanups.push(() => legacyDb.close());
    const legacyUrl = new URL(php.db.url);
    legacyUrl.port = String(legacyDb.port);

    const clientsFile = join(dir, 'clients.yaml');
    writeFileSync(clientsFile, clients());
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
      SHUTDOWN_DELAY_MS: String(balanced ? SHUTDOWN_DELAY_MS : 0),
    };
    const idpEnv = {
      ...common,
      IDP_CLIENTS_FILE: clientsFile,
      IDP_CLIENT_SECRET_KEY: CLIENT_SECRET_KEY,
      IDP_INTERACTION_SECRET: secret(),
      IDP_REGISTRATION_ACCESS_TOKEN: secret(),
      IDP_KEY_ENCRYPTION_KEY: secret(),
      IDP_COOKIE_KEYS: secret(),
      // The lowest production allows: the machine has two cores for everything.
      PBKDF2_ITERATIONS: '100000',
      // Shorter than the gateway's timeout, so the idp's own answer to a stalled adapter gets through.
      LEGACY_ADAPTER_TIMEOUT_MS: String(upstreamTimeoutMs / 2),
      IDP_DUAL_WRITE_BCRYPT_COST: '4',
      IDP_DUAL_WRITE_POLL_MS: '200',
      IDP_DUAL_WRITE_RETRY_BASE_MS: '100',
      IDP_DUAL_WRITE_RETRY_MAX_MS: '1000',
      // A key rotation reaches every replica within a second.
      IDP_KEYS_POLL_SECONDS: '1',
      // Every agent signs in from its own address; these limits are not what is tested here.
      IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: '100000',
    };
    for (const step of [['idp/store/migrate-cli.ts'], ['idp/cli/keys.ts', 'add-next'], ['idp/cli/keys.ts', 'promote']]) await operatorStep(step, idpEnv);

    const adapter = await startAdapterProcess(php, {
      NODE_ENV: 'production',
      LEGACY_DATABASE_URL: legacyUrl.href,
      SHUTDOWN_DELAY_MS: common.SHUTDOWN_DELAY_MS,
    });
    cleanups.push(() => adapter.stop());
    const crashes: string[] = [];
    const ports = async (n: number) => Promise.all(Array.from({ length: n }, () => freePort()));
    const [idpPorts, gatewayPorts, [publicPort, idpBalancerPort]] = await Promise.all([ports(replicas.idp), ports(replicas.gateway), ports(2)]);
    const idps = idpPorts.map(
      (port, i) => new Replica(`idp-${i + 1}`, 'idp/main.ts', 'IDP_PORT', { ...idpEnv, LEGACY_ADAPTER_URL: adapter.url }, port, crashes),
    );
    const gatewayEnv = {
      ...common,
      // One process per replica when balanced (as in Kubernetes); two workers when it is the only one.
      GATEWAY_WORKERS: balanced ? '1' : '2',
      // The shipped route table: it sends the idp's account pages (the password change) to the idp.
      GATEWAY_ROUTES_FILE: join(repoRoot, 'gateway/routes.yaml'),
      GATEWAY_FLAG_RELOAD_MS: '2000',
      // A rotated signing key's unknown kid sends the gateway to the JWKS again this soon.
      GATEWAY_JWKS_COOLDOWN_MS: '200',
      UPSTREAM_TIMEOUT_MS: String(upstreamTimeoutMs),
      GATEWAY_ADMIN_TOKEN: adminToken,
      GATEWAY_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      GATEWAY_AUTH_COOKIE_SECRET: COOKIE_SECRET,
      LEGACY_UPSTREAM_URL: php.url,
      LEGACY_HEALTH_PATH: '/api/health.php',
      IDP_UPSTREAM_URL: balanced ? `http://127.0.0.1:${idpBalancerPort}` : idps[0]!.url,
      LEGACY_ADAPTER_URL: adapter.url,
    };
    const gateways = gatewayPorts.map((port, i) => new Replica(`gateway-${i + 1}`, 'gateway/main.ts', 'GATEWAY_PORT', gatewayEnv, port, crashes));
    let stopping = false;
    cleanups.push(async () => {
      stopping = true;
      await Promise.all([...gateways, ...idps].map((r) => r.stop()));
    });
    let balancer: RunningNginx | undefined;
    let balancerValues: BalancerValues | undefined;
    if (balanced) {
      balancerValues = {
        gateways: gateways.map((g) => `127.0.0.1:${g.port}`),
        idps: idps.map((r) => `127.0.0.1:${r.port}`),
        publicListen: `127.0.0.1:${publicPort}`,
        idpListen: `127.0.0.1:${idpBalancerPort}`,
      };
      const conf = renderBalancerConf(balancerValues);
      // nginx first: the gateways check their idp upstream through it as they start. Up once it
      // accepts connections: a request now would fail at the replicas not yet started, and nginx
      // would leave them out for a while (fail_timeout).
      balancer = await startNginx(conf, () => accepts(publicPort!));
      cleanups.push(() => balancer!.stop());
    }
    for (const idp of idps) await idp.start();
    for (const gateway of gateways) await gateway.start();
    await Promise.all([...idps, ...gateways].map((r) => r.ready()));
    const idpDb = createDatabase(db.url, { pool: { min: 0, max: 2 } });
    cleanups.push(() => idpDb.destroy());
    void adapter.exited.then((code) => {
      if (!stopping) crashes.push(`legacy-adapter exited (${code})`);
    });
    return {
      gateway: balanced ? `http://127.0.0.1:${publicPort}` : gateways[0]!.url,
      adminToken,
      php,
      redis,
      legacyDb,
      idpDb,
      idps,
      gateways,
      adapter,
      idpInternalUrl: balanced ? `http://127.0.0.1:${idpBalancerPort}` : idps[0]!.url,
      dir,
      balancer,
      balancerValues,
      operator: (args, env = {}) => operatorStep(args, { ...idpEnv, ...env }),
      crashes: () => [...crashes],
      outputs: () =>
        [...gateways, ...idps]
          .map((r) => r.output())
          .concat(adapter.output())
          .join('\n'),
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
