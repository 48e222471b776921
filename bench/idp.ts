// `npm run bench:idp`: requests per second and latency percentiles of the idp's hot endpoints
// (token: client credentials and refresh with rotation; introspection; JWKS; discovery) on
// MariaDB + Redis and on the embedded default, against plain oidc-provider with its default
// in-memory adapter and the same grants, as the baseline measured in the same run. Reported,
// not asserted; the figures go in docs/PERFORMANCE.md.
//
//   npm run bench:idp
//   BENCH_SECONDS=10 BENCH_CONCURRENCY=64 npm run bench:idp
//
// Each server is its own process; the load generator is this process: a bounded set of
// concurrent keep-alive fetch loops (undici), each request timed on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUserStore } from '../idp/users/store.ts';
import { createDatabase, migrate } from '../lib/db.ts';
import { idpMigrations } from '../idp/store/migrations/index.ts';
import { hashClientSecret } from '../idp/oidc/client-secrets.ts';
import { authorize, UserAgent } from '../scripts/support/browser.ts';
import { LEGACY_PHPASS, PASSWORD } from '../scripts/support/legacy-hashes.ts';
import { createMariaDbDatabase, createTestRedis, mariadbProblem, redisProblem, REDIS_TEST_URL } from '../scripts/support/databases.ts';
import { freePort, repoRoot } from '../scripts/support/processes.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const AUDIENCE = 'https://orders.bench.test/api';
const SECRET_KEY = 'bench-client-secret-hmac-key-0123456789';
const SERVICE_SECRET = randomBytes(32).toString('base64url');
const API_SECRET = randomBytes(32).toString('base64url');
const REDIRECT = 'http://127.0.0.1/callback';

const dir = mkdtempSync(join(tmpdir(), 'bench-idp-'));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

const clientsYaml = `clients:
  - client_id: bench-service
    client_secret_env: BENCH_SERVICE_SECRET
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read
  - client_id: bench-api
    client_secret_hash: "${hashClientSecret(API_SECRET, SECRET_KEY)}"
    response_types: []
    grant_types: [client_credentials]
    scope: orders:read
  - client_id: bench-app
    application_type: native
    token_endpoint_auth_method: none
    redirect_uris: ["${REDIRECT}"]
    grant_types: [authorization_code, refresh_token]
    scope: openid offline_access orders:read
`;
const resourcesYaml = `resources:
  - audience: ${AUDIENCE}
    scopes: { "orders:read": Read orders }
    access_token_ttl: 600
    introspection_clients: [bench-api]
`;
const baselineClients = [
  {
    client_id: 'bench-service',
    client_secret: SERVICE_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'orders:read',
  },
  { client_id: 'bench-api', client_secret: API_SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'orders:read' },
  {
    client_id: 'bench-app',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid offline_access orders:read',
  },
];

function start(name: string, script: string, env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, [script], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening')) resolve();
    });
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}):\n${out.slice(-3000)}`)));
  });
}

interface Target {
  name: string;
  url: string;
}

async function startIdpTarget(name: string, storage: 'mysql' | 'sqlite'): Promise<Target> {
  const port = await freePort();
  const sub = join(dir, storage);
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, 'clients.yaml'), clientsYaml);
  writeFileSync(join(sub, 'resources.yaml'), resourcesYaml);
  let databaseUrl = `sqlite:${join(sub, 'idp.sqlite')}`;
  const env: Record<string, string> = {};
  if (storage === 'mysql') {
    const db = await createMariaDbDatabase('idm_bench');
    const redis = await createTestRedis();
    cleanups.push(
      () => db.drop(),
      () => redis.cleanup(),
    );
    databaseUrl = db.url;
    Object.assign(env, { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redis.prefix });
  }
  // The user the refresh chains belong to: a legacy hash, upgraded at the first login.
  const knex = createDatabase(databaseUrl);
  await migrate(knex, idpMigrations);
  await createUserStore(knex).insertFromLegacy({
    legacyId: 'bench-1',
    username: 'bench',
    email: 'bench@example.test',
    name: 'Bench',
    passwordHash: LEGACY_PHPASS,
    passwordScheme: 'phpass-portable-P',
    legacyFingerprint: null,
  });
  await knex.destroy();
  // Production mode refuses development keys: the key comes from the ops command, as in production.
  await keysCommand(databaseUrl, 'add-next');
  await keysCommand(databaseUrl, 'promote');
  await start(name, 'bench/idp/idp-server.ts', {
    ...env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    IDP_PORT: String(port),
    IDP_OPS_PORT: '0',
    IDP_ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    IDP_CLIENTS_FILE: join(sub, 'clients.yaml'),
    IDP_RESOURCES_FILE: join(sub, 'resources.yaml'),
    IDP_CLIENT_SECRET_KEY: SECRET_KEY,
    IDP_KEY_ENCRYPTION_KEY: keyEncryptionKey,
    BENCH_SERVICE_SECRET: SERVICE_SECRET,
    ...productionSecrets(),
    IDP_KEYS_POLL_SECONDS: '10',
    PBKDF2_ITERATIONS: '600000',
  });
  return { name, url: `http://127.0.0.1:${port}` };
}

function productionSecrets(): Record<string, string> {
  const s = () => randomBytes(32).toString('base64url');
  return {
    IDP_COOKIE_KEYS: cookieKey,
    IDP_REGISTRATION_ACCESS_TOKEN: s(),
    IDP_INTERACTION_SECRET: interactionSecret,
    IDP_INTERNAL_SECRET: s(),
    LEGACY_ADAPTER_SECRET: s(),
  };
}
const cookieKey = randomBytes(32).toString('base64url');
const interactionSecret = randomBytes(32).toString('base64url');
// The keys command and the idp must share it: the command encrypts what the idp decrypts.
const keyEncryptionKey = randomBytes(32).toString('base64url');

function keysCommand(databaseUrl: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['idp/cli/keys.ts', command], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, IDP_KEY_ENCRYPTION_KEY: keyEncryptionKey },
      stdio: 'ignore',
    });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`keys ${command} exited ${code}`))));
  });
}

async function startBaseline(): Promise<Target> {
  const port = await freePort();
  await start('baseline', 'bench/idp/baseline-server.ts', { PORT: String(port), BENCH_CLIENTS: JSON.stringify(baselineClients), BENCH_AUDIENCE: AUDIENCE });
  return { name: 'baseline: oidc-provider, default in-memory adapter', url: `http://127.0.0.1:${port}` };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

/** One refresh token per load loop, from a real code + PKCE flow, and an opaque access token. */
async function prepareTokens(target: Target): Promise<{ refresh: string[]; accessToken: string }> {
  const agent = new UserAgent();
  const refresh: string[] = [];
  let accessToken = '';
  for (let i = 0; i < concurrency; i++) {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const url = new URL('/auth', target.url);
    url.search = new URLSearchParams({
      client_id: 'bench-app',
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      prompt: 'consent',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 's',
    }).toString();
    const callback = await authorize(agent, url, REDIRECT, { username: 'bench', password: PASSWORD });
    const response = await fetch(new URL('/token', target.url), {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        client_id: 'bench-app',
      }),
    });
    const tokens = (await response.json()) as { refresh_token: string; access_token: string };
    if (!tokens.refresh_token) throw new Error(`${target.name}: no refresh token: ${JSON.stringify(tokens)}`);
    refresh.push(tokens.refresh_token);
    accessToken = tokens.access_token;
  }
  return { refresh, accessToken };
}

interface Result {
  target: string;
  scenario: string;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
}

async function load(make: (worker: number) => Promise<boolean>, duration: number): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + duration * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        let ok: boolean;
        try {
          ok = await make(worker);
        } catch {
          ok = false;
        }
        latencies.push(performance.now() - t0);
        if (!ok) errors += 1;
      }
    }),
  );
  return { latencies, errors };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function measure(target: Target): Promise<Result[]> {
  const { refresh, accessToken } = await prepareTokens(target);
  const scenarios: Record<string, (w: number) => Promise<boolean>> = {
    'token: client_credentials': async () => {
      const r = await fetch(`${target.url}/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic('bench-service', SERVICE_SECRET) },
        body: 'grant_type=client_credentials&scope=orders%3Aread',
      });
      const body = (await r.json()) as { access_token?: string };
      return r.status === 200 && Boolean(body.access_token);
    },
    'token: refresh (rotating)': async (w) => {
      const r = await fetch(`${target.url}/token`, {
        method: 'POST',
        headers: form,
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh[w]!, client_id: 'bench-app' }),
      });
      const body = (await r.json()) as { refresh_token?: string };
      if (r.status !== 200 || !body.refresh_token) return false;
      refresh[w] = body.refresh_token;
      return true;
    },
    introspection: async () => {
      const r = await fetch(`${target.url}/token/introspection`, {
        method: 'POST',
        headers: { ...form, authorization: basic('bench-api', API_SECRET) },
        body: new URLSearchParams({ token: accessToken }),
      });
      return r.status === 200 && ((await r.json()) as { active?: boolean }).active === true;
    },
    jwks: async () => {
      const r = await fetch(`${target.url}/jwks`);
      await r.arrayBuffer();
      return r.status === 200;
    },
    discovery: async () => {
      const r = await fetch(`${target.url}/.well-known/openid-configuration`);
      await r.arrayBuffer();
      return r.status === 200;
    },
  };
  const results: Result[] = [];
  for (const [scenario, make] of Object.entries(scenarios)) {
    if (warmupSeconds) await load(make, warmupSeconds);
    const { latencies, errors } = await load(make, seconds);
    latencies.sort((a, b) => a - b);
    const result = {
      target: target.name,
      scenario,
      requests: latencies.length,
      errors,
      rps: Math.round(latencies.length / seconds),
      p50: +percentile(latencies, 50).toFixed(2),
      p90: +percentile(latencies, 90).toFixed(2),
      p99: +percentile(latencies, 99).toFixed(2),
    };
    console.log(
      `${result.target.padEnd(52)} ${scenario.padEnd(28)} ${String(result.rps).padStart(6)} req/s  p50 ${result.p50} ms  p90 ${result.p90} ms  p99 ${result.p99} ms  errors ${errors}`,
    );
    results.push(result);
  }
  return results;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          c.removeAllListeners('exit');
          c.once('exit', () => done());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  );
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}

try {
  const results: Result[] = [];
  console.log(
    `bench:idp: ${seconds} s per scenario after ${warmupSeconds} s warm-up, ${concurrency} concurrent keep-alive loops, ${cpus().length} CPUs, Node ${process.version}\n`,
  );
  const baseline = await startBaseline();
  results.push(...(await measure(baseline)));
  const problems = [await mariadbProblem(), await redisProblem()].filter(Boolean);
  if (problems.length) console.warn(`SKIPPED MariaDB + Redis: ${problems.join('; ')}`);
  else results.push(...(await measure(await startIdpTarget('idp: MariaDB + Redis', 'mysql'))));
  results.push(...(await measure(await startIdpTarget('idp: embedded (SQLite + in-process)', 'sqlite'))));

  const base = (scenario: string) => results.find((r) => r.target === baseline.name && r.scenario === scenario)?.rps ?? NaN;
  console.log('\n| target | scenario | req/s | vs baseline | p50 ms | p90 ms | p99 ms | errors |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(`| ${r.target} | ${r.scenario} | ${r.rps} | ${Math.round((100 * r.rps) / base(r.scenario))}% | ${r.p50} | ${r.p90} | ${r.p99} | ${r.errors} |`);
  }
  const cc = results.find((r) => r.target === 'idp: MariaDB + Redis' && r.scenario === 'token: client_credentials');
  if (cc) {
    const share = (100 * cc.rps) / base('token: client_credentials');
    console.log(`\ntarget: client_credentials on MariaDB + Redis >= 60% of the baseline: ${share.toFixed(0)}% (${share >= 60 ? 'met' : 'NOT met'})`);
  }
  mkdirSync(join(repoRoot, 'bench/out'), { recursive: true });
  writeFileSync(
    join(repoRoot, 'bench/out/idp.json'),
    JSON.stringify({ date: new Date().toISOString(), seconds, concurrency, cpus: cpus().length, node: process.version, results }, null, 2),
  );
} finally {
  await stopAll();
  await sleep(10);
}
