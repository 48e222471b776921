// `npm run bench:gateway`: the gateway against calling the upstream directly and against nginx
// configured as the same reverse proxy, in one run on loopback. Needs Debian's nginx and wrk
// (apt-get install nginx wrk). Reported, not asserted; the figures go in docs/PERFORMANCE.md.
//
//   npm run bench:gateway                       # defaults below
//   BENCH_SECONDS=20 BENCH_CONNECTIONS=128 npm run bench:gateway
//
// The upstream is an nginx that answers a small fixed body, so it is never the bottleneck:
// what differs between the three runs is only the proxy in the middle (none, nginx, gateway),
// each with one worker process and keep-alive connections to the upstream. The same gateway also
// serves a bearer-checked API route (an RS256 access token verified against a JWKS the upstream
// nginx serves), measured against its route without auth in the same run.
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, repoRoot } from '../scripts/support/processes.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const latencySeconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const gatewayLogLevel = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'warn';
// The multi-process comparison: nginx with N worker processes against the gateway with
// GATEWAY_WORKERS=N (which needs Redis for its flags). 1 skips it.
const workers = Number(process.env.BENCH_WORKERS ?? availableParallelism());
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

for (const tool of ['nginx', 'wrk']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench:gateway needs ${tool} (Debian: apt-get install -y ${tool})`);
    process.exit(2);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
const children: ChildProcess[] = [];

function start(name: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.once('exit', (code) => {
    if (!stopping) console.error(`${name} exited early (${code}): ${err.slice(-2000)}`);
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stopAll() {
  stopping = true;
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          c.once('exit', () => done());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
}

function nginxConfig(name: string, server: string, workers = 1): string {
  const base = join(dir, name);
  mkdirSync(base, { recursive: true });
  const file = join(base, 'nginx.conf');
  writeFileSync(
    file,
    `
worker_processes ${workers};
pid ${base}/nginx.pid;
error_log ${base}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${base}/body; proxy_temp_path ${base}/proxy; fastcgi_temp_path ${base}/fastcgi;
  uwsgi_temp_path ${base}/uwsgi; scgi_temp_path ${base}/scgi;
  keepalive_requests 100000;
  ${server}
}
`,
  );
  return file;
}

async function waitFor(url: string) {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.text();
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

/**
 * CPU time (user + system, in clock ticks of 10 ms) used so far by a process and its children
 * (nginx's workers). On a shared machine, requests/s depend on what else runs; CPU time per
 * request does much less, so it is reported too.
 */
function cpuTicks(pid: number): number {
  const pids = [pid];
  const children = `/proc/${pid}/task/${pid}/children`;
  if (existsSync(children)) pids.push(...readFileSync(children, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  let ticks = 0;
  for (const p of pids) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks;
}

interface WrkResult {
  rps: number;
  requests: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

function wrk(url: string, conns: number, secs: number, headers: string[] = []): WrkResult {
  const run = spawnSync('wrk', ['-t1', `-c${conns}`, `-d${secs}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const out = run.stdout;
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    p50ms: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99ms: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    errors: errs
      ? errs
          .slice(1)
          .map(Number)
          .reduce((a, b) => a + b, 0)
      : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
  };
}

try {
  const [upstreamPort, nginxPort, gatewayPort, expressPort, nginxNPort, gatewayNPort, floorPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const body = 'x'.repeat(256);
  // The idp's part for the bearer route: a signing key whose JWKS the upstream serves at /jwks
  // (the gateway fetches it once), and one access token as the idp would issue it.
  const issuer = 'https://idp.bench.example';
  const audience = 'https://api.bench.example';
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' }] });
  const accessToken = await new SignJWT({ scope: 'bench:read', client_id: 'bench-client', legacy_username: 'alice' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject('bench-user')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  const upstreamConf = nginxConfig(
    'upstream',
    `server { listen 127.0.0.1:${upstreamPort}; location / { default_type text/plain; return 200 "${body}"; } location = /jwks { default_type application/json; return 200 '${jwks}'; } }`,
  );
  const proxyServer = (port: number) => `
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
      proxy_read_timeout 30s;
    }
  }`;
  const pids: Record<string, number> = {};
  const nginxConfs: Array<[string, string]> = [
    ['direct', upstreamConf],
    ['nginx', nginxConfig('proxy', proxyServer(nginxPort))],
  ];
  if (workers > 1) nginxConfs.push(['nginxN', nginxConfig('proxyN', proxyServer(nginxNPort), workers)]);
  for (const [name, conf] of nginxConfs) {
    pids[name] = start(name, 'nginx', ['-p', dir, '-e', join(dir, `${name}-startup-error.log`), '-c', conf, '-g', 'daemon off;']).pid!;
  }
  const routes = join(dir, 'routes.yaml');
  writeFileSync(
    routes,
    `routes:
  - name: api
    paths: ["/api/*"]
    auth: { bearer: required, audience: "${audience}", scopes: { default: ["bench:read"] }, headers: { X-Remote-User: legacy_username, X-Identity-Subject: sub } }
  - name: all
    paths: ["/*"]
    default: legacy
`,
  );
  const gatewayEnv = (port: number, database: string) => ({
    NODE_ENV: 'production',
    GATEWAY_PORT: String(port),
    GATEWAY_OPS_PORT: '0',
    GATEWAY_ROUTES_FILE: routes,
    GATEWAY_ADMIN_TOKEN: 'bench-admin-token-that-is-long-enough-0123456789',
    IDP_INTERNAL_SECRET: 'bench-internal-secret-that-is-long-enough-012345',
    // Production mode refuses development secrets, even for features the bench does not use.
    GATEWAY_OIDC_CLIENT_SECRET: 'bench-oidc-client-secret-that-is-long-enough-0123',
    GATEWAY_AUTH_COOKIE_SECRET: 'bench-auth-cookie-secret-that-is-long-enough-0123',
    LEGACY_SESSION_BRIDGE_SECRET: 'bench-session-bridge-secret-that-is-long-enough-01',
    LEGACY_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
    IDP_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
    GATEWAY_TOKEN_ISSUER: issuer,
    DATABASE_URL: `sqlite:${join(dir, database)}`,
    LOG_LEVEL: gatewayLogLevel,
    REDIS_URL: '',
  });
  pids.gateway = start('gateway', process.execPath, ['gateway/main.ts'], gatewayEnv(gatewayPort, 'gateway.sqlite')).pid!;
  if (workers > 1) {
    // Several workers need their flags in Redis (the configuration refuses otherwise).
    pids.gatewayN = start('gatewayN', process.execPath, ['gateway/main.ts'], {
      ...gatewayEnv(gatewayNPort, 'gateway-n.sqlite'),
      GATEWAY_WORKERS: String(workers),
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `bench:${process.pid}:`,
    }).pid!;
  }
  pids.floor = start('floor', process.execPath, ['bench/floor-proxy.ts'], {
    BENCH_PORT: String(floorPort),
    BENCH_TARGET: `http://127.0.0.1:${upstreamPort}`,
  }).pid!;
  pids.express = start('express', process.execPath, ['bench/express-proxy.ts'], {
    BENCH_PORT: String(expressPort),
    BENCH_TARGET: `http://127.0.0.1:${upstreamPort}`,
  }).pid!;
  const urls: Record<string, string> = {
    direct: `http://127.0.0.1:${upstreamPort}/bench`,
    nginx: `http://127.0.0.1:${nginxPort}/bench`,
    gateway: `http://127.0.0.1:${gatewayPort}/bench`,
    gatewayBearer: `http://127.0.0.1:${gatewayPort}/api/bench`,
    gatewayTokenOnly: `http://127.0.0.1:${gatewayPort}/bench`,
    ...(workers > 1 ? { nginxN: `http://127.0.0.1:${nginxNPort}/bench`, gatewayN: `http://127.0.0.1:${gatewayNPort}/bench` } : {}),
    floor: `http://127.0.0.1:${floorPort}/bench`,
    express: `http://127.0.0.1:${expressPort}/bench`,
  };
  pids.gatewayBearer = pids.gateway;
  pids.gatewayTokenOnly = pids.gateway;
  // The route without auth, with the same token sent along: what the check costs apart from carrying ~800 bytes more.
  const requestHeaders: Record<string, string[]> = {
    gatewayBearer: [`Authorization: Bearer ${accessToken}`],
    gatewayTokenOnly: [`Authorization: Bearer ${accessToken}`],
  };
  // The bearer route answers 401 without its token: the gateway's own URL says it is up.
  await Promise.all(
    Object.entries(urls)
      .filter(([name]) => name !== 'gatewayBearer')
      .map(([, url]) => waitFor(url)),
  );

  const loadBefore = loadavg();
  const results: Record<string, { throughput: WrkResult; latency: WrkResult; cpuMicrosPerRequest: number }> = {};
  for (const [name, url] of Object.entries(urls)) {
    const headers = requestHeaders[name];
    wrk(url, connections, 2, headers); // warm-up: JIT, keep-alive pools (and the bearer route's JWKS and token cache)
    // The proxy's own CPU (for "direct", the upstream's: what every path pays anyway).
    const before = cpuTicks(pids[name]!);
    const throughput = wrk(url, connections, seconds, headers);
    const cpuMicrosPerRequest = ((cpuTicks(pids[name]!) - before) * 10_000) / Math.max(1, throughput.requests);
    const latency = wrk(url, 1, latencySeconds, headers);
    results[name] = { throughput, latency, cpuMicrosPerRequest };
    console.error(
      `${name}: ${throughput.rps.toFixed(0)} req/s at ${connections} connections (${cpuMicrosPerRequest.toFixed(1)} us CPU per request); p50 ${latency.p50ms} ms, p99 ${latency.p99ms} ms at 1 connection`,
    );
  }
  const loadAfter = loadavg();
  const direct = results.direct!;
  const added = (r: { latency: WrkResult }) => ({ p50: r.latency.p50ms - direct.latency.p50ms, p99: r.latency.p99ms - direct.latency.p99ms });
  const fmt = (n: number) => n.toFixed(3);
  /** The issue's two targets for one gateway configuration against nginx with as many processes. */
  const compare = (gatewayName: string, nginxName: string) => {
    const g = results[gatewayName]!;
    const n = results[nginxName]!;
    const ratio = g.throughput.rps / n.throughput.rps;
    const gAdded = added(g).p50;
    const nAdded = added(n).p50;
    return {
      throughput: { wanted: '>= 50% of nginx', got: `${(ratio * 100).toFixed(1)}%`, met: ratio >= 0.5 },
      addedP50: { wanted: '<= 2x nginx', got: nAdded > 0 ? `${(gAdded / nAdded).toFixed(2)}x` : 'n/a', met: gAdded <= 2 * Math.max(nAdded, 0.001) },
      cpuPerRequest: `${(g.cpuMicrosPerRequest / n.cpuMicrosPerRequest).toFixed(2)}x nginx's`,
    };
  };
  const targets: Record<string, ReturnType<typeof compare>> = { 'one process each': compare('gateway', 'nginx') };
  const bearerRatio = results.gatewayBearer!.throughput.rps / results.gateway!.throughput.rps;
  const bearer = {
    wanted: '>= 70% of the same gateway without auth',
    got: `${(bearerRatio * 100).toFixed(1)}%`,
    met: bearerRatio >= 0.7,
    cpuPerRequest: `${(results.gatewayBearer!.cpuMicrosPerRequest / results.gateway!.cpuMicrosPerRequest).toFixed(2)}x without auth, ${(results.gatewayBearer!.cpuMicrosPerRequest / results.gatewayTokenOnly!.cpuMicrosPerRequest).toFixed(2)}x the same token not looked at`,
  };
  if (workers > 1) targets[`${workers} processes each`] = compare('gatewayN', 'nginxN');
  const labels: Record<string, string> = {
    direct: 'upstream directly',
    nginx: 'nginx, 1 worker',
    gateway: '**gateway, 1 process**',
    gatewayBearer: '**gateway, 1 process, bearer-checked API route** (JWT; verified once, then cached)',
    gatewayTokenOnly: 'gateway, 1 process, route without auth, the same token sent along (not looked at)',
    nginxN: `nginx, ${workers} workers`,
    gatewayN: `**gateway, ${workers} workers** (GATEWAY_WORKERS=${workers})`,
    floor: 'the floor: the same forwarder, no features, 1 process (bench/floor-proxy.ts)',
    express: 'express + http-proxy-middleware (not used)',
  };
  const rows = Object.entries(results).map(([name, r]) => {
    const a = name === 'direct' ? undefined : added(r);
    return `| ${labels[name]} | ${r.throughput.rps.toFixed(0)} | ${r.cpuMicrosPerRequest.toFixed(1)}${name === 'direct' ? ' (upstream)' : ''} | ${fmt(r.latency.p50ms)} | ${fmt(r.latency.p99ms)} | ${a ? fmt(a.p50) : '-'} | ${a ? fmt(a.p99) : '-'} | ${r.throughput.errors + r.throughput.non2xx} |`;
  });
  const summary = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadBefore, loadAfter },
    settings: { seconds, connections, latencySeconds, gatewayLogLevel, wrkThreads: 1, workers },
    results,
    targets,
    bearer,
  };
  const verdicts = Object.entries(targets).map(
    ([pair, t]) =>
      `${pair}: throughput ${t.throughput.got} of nginx (target >= 50%: ${t.throughput.met ? 'met' : 'NOT met'}); added p50 ${t.addedP50.got} nginx's (target <= 2x: ${t.addedP50.met ? 'met' : 'NOT met'}); CPU per request ${t.cpuPerRequest}`,
  );
  verdicts.push(
    `bearer-checked route: ${bearer.got} of the gateway's requests/s without auth (target >= 70%: ${bearer.met ? 'met' : 'NOT met'}); CPU per request ${bearer.cpuPerRequest}`,
  );
  console.log(`
load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after, on ${cpus().length} CPUs

| path | req/s (${connections} conns) | CPU us/request (proxy) | p50 ms (1 conn) | p99 ms (1 conn) | added p50 ms | added p99 ms | errors |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

${verdicts.join('\n')}
`);
  mkdirSync(join(repoRoot, 'bench/out'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench/out/gateway.json'), JSON.stringify(summary, null, 2));
} finally {
  await stopAll();
}
