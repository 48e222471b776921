// GATEWAY_WORKERS: several gateway processes on one port (node:cluster). What ops must be able to
// rely on: requests spread over the workers, /metrics and the admin page count all of them
// whichever worker answers, a flip reaches every worker, a dead worker is replaced, and SIGTERM
// drains them all.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { createTestRedis, redisProblem, skipLoudly } from '../../scripts/support/databases.ts';
import { spawnScript, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN, INTERNAL_SECRET } from '../support/gateway.ts';
import { sample } from '../support/prometheus-text.ts';

let legacy: Server;
let next: Server;
const legacyPeers = new Set<number>();
let redis: Awaited<ReturnType<typeof createTestRedis>> | undefined;
let gateway: SpawnedService | undefined;
let dir: string;
let redisMissing: string | undefined;

async function upstream(side: string, peers?: Set<number>): Promise<Server> {
  const server = createServer((req, res) => {
    peers?.add(req.socket.remotePort ?? 0);
    res.setHeader('x-served-by', side);
    res.end(side);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** A GET on a new connection each time, so the cluster hands it to the next worker. */
function freshGet(path: string): Promise<{ status: number; side: string; body: string }> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(gateway!.url);
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, side: String(res.headers['x-served-by'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function workerPids(primary = gateway!): number[] {
  const file = `/proc/${primary.child.pid}/task/${primary.child.pid}/children`;
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : [];
}

function baseEnv(): Record<string, string> {
  return {
    NODE_ENV: 'test',
    GATEWAY_ROUTES_FILE: join(dir, 'routes.yaml'),
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    IDP_INTERNAL_SECRET: INTERNAL_SECRET,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
    LEGACY_UPSTREAM_URL: urlOf(legacy),
    IDP_UPSTREAM_URL: urlOf(next),
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-workers-'));
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  - name: site\n    paths: ["/*"]\n    default: legacy\n');
  legacy = await upstream('legacy', legacyPeers);
  next = await upstream('new');
  redisMissing = await redisProblem();
  if (redisMissing) return;
  redis = await createTestRedis();
  gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    ...baseEnv(),
    GATEWAY_WORKERS: '2',
    REDIS_URL: 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: redis.prefix,
  });
});

after(async () => {
  if (gateway && gateway.child.exitCode === null) await gateway.stop('SIGKILL');
  for (const pid of gateway ? workerPids() : []) process.kill(pid, 'SIGKILL');
  await redis?.cleanup();
  for (const server of [legacy, next]) {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  }
  rmSync(dir, { recursive: true, force: true });
});

test('more than one worker without Redis is refused at start, naming both settings', async () => {
  const run = spawnScript('gateway/main.ts', { ...baseEnv(), GATEWAY_PORT: '0', GATEWAY_OPS_PORT: '0', GATEWAY_WORKERS: '2', REDIS_URL: '' });
  assert.equal(await run.exited, 78);
  assert.match(run.output(), /GATEWAY_WORKERS=2 needs REDIS_URL/);
  const bad = spawnScript('gateway/main.ts', { ...baseEnv(), GATEWAY_PORT: '0', GATEWAY_OPS_PORT: '0', GATEWAY_WORKERS: 'lots' });
  assert.equal(await bad.exited, 78);
  assert.match(bad.output(), /GATEWAY_WORKERS/);
});

test('requests spread over the workers, and /metrics and the admin API count all of them on every worker', async (t) => {
  if (redisMissing) return skipLoudly(t, 'Redis', redisMissing);
  assert.equal(workerPids().length, 2, 'two workers');
  const n = 40;
  for (let i = 0; i < n; i++) assert.equal((await freshGet(`/spread/${i}`)).status, 200);
  // Each worker keeps its own keep-alive pool to the upstream: two pools, two upstream peers.
  assert.ok(legacyPeers.size >= 2, `requests reached the upstream from ${legacyPeers.size} worker pool(s)`);
  for (let scrape = 0; scrape < 6; scrape++) {
    const text = await (await fetch(`${gateway!.opsUrl}/metrics`, { headers: { connection: 'close' } })).text();
    assert.equal(sample(text, 'gateway_proxy_requests_total', { route: 'site', side: 'legacy', status: '200' }), n, `scrape ${scrape}: the sum over workers`);
    assert.equal(sample(text, 'http_requests_total', { route: 'site', method: 'GET', status: '200' }), n);
    assert.equal(sample(text, 'gateway_route_mode', { route: 'site', mode: 'legacy' }), 1, 'a flag gauge is not summed');
  }
  const routes = await (await fetch(`${gateway!.url}/admin/api/routes`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, connection: 'close' } })).json();
  assert.equal(routes.routes[0].traffic.legacy, n);
});

test('a flip through one worker reaches every worker', async (t) => {
  if (redisMissing) return skipLoudly(t, 'Redis', redisMissing);
  const flip = await fetch(`${gateway!.url}/admin/api/routes/site/flag`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ mode: 'idp', reason: 'workers test' }),
  });
  assert.equal(flip.status, 200);
  // Pub/sub applies it within moments on the other worker; after that every connection lands on new.
  const deadline = Date.now() + 5_000;
  let sides: string[];
  do {
    sides = await Promise.all(Array.from({ length: 10 }, (_, i) => freshGet(`/flipped/${i}`).then((r) => r.side)));
    if (sides.every((s) => s === 'new')) break;
    await sleep(100);
  } while (Date.now() < deadline);
  assert.deepEqual(new Set(sides), new Set(['new']));
});

test('a worker that dies is replaced, and SIGTERM drains every worker and exits 0', async (t) => {
  if (redisMissing) return skipLoudly(t, 'Redis', redisMissing);
  const [victim] = workerPids();
  process.kill(victim!, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !(workerPids().length === 2 && !workerPids().includes(victim!))) await sleep(100);
  assert.equal(workerPids().length, 2, 'a new worker took its place');
  assert.ok(!workerPids().includes(victim!));
  for (let i = 0; i < 6; i++) assert.equal((await freshGet(`/after/${i}`)).status, 200);
  assert.match(gateway!.output(), /worker died: starting another/);

  const workers = workerPids();
  assert.equal(await gateway!.stop('SIGTERM'), 0, gateway!.output());
  for (const pid of workers) assert.throws(() => process.kill(pid, 0), 'worker gone');
});

test('SIGTERM at awkward moments still drains and exits 0: just after a worker was killed, with a worker killed mid-drain, while a replacement starts', async (t) => {
  if (redisMissing) return skipLoudly(t, 'Redis', redisMissing);
  const moments: Array<[string, (primary: SpawnedService, workers: number[]) => Promise<void>]> = [
    [
      'a worker killed the same moment',
      async (primary, [victim]) => {
        process.kill(victim!, 'SIGKILL');
        primary.child.kill('SIGTERM');
      },
    ],
    [
      'a worker killed just after',
      async (primary, [victim]) => {
        primary.child.kill('SIGTERM');
        process.kill(victim!, 'SIGKILL');
      },
    ],
    [
      'its replacement still starting',
      async (primary, [victim]) => {
        process.kill(victim!, 'SIGKILL');
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && !(workerPids(primary).length === 2 && !workerPids(primary).includes(victim!))) await sleep(20);
        primary.child.kill('SIGTERM');
      },
    ],
  ];
  for (const [moment, act] of moments) {
    const primary = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
      ...baseEnv(),
      GATEWAY_WORKERS: '2',
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: redis!.prefix,
    });
    try {
      let workers: number[] = [];
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (workers = workerPids(primary)).length < 2) await sleep(50);
      assert.equal(workers.length, 2, 'two workers');
      await act(primary, workers);
      assert.equal(await primary.exited, 0, `${moment}:\n${primary.output()}`);
      for (const pid of workerPids(primary)) assert.throws(() => process.kill(pid, 0), `${moment}: worker gone`);
    } finally {
      if (primary.child.exitCode === null) primary.child.kill('SIGKILL');
    }
  }
});

test("SIGTERM when a worker's exit comes before its disconnect: the primary still settles and exits 0 (never 13)", async () => {
  // Each worker's channel stays open this long after the worker exits (test/fixtures/cluster-exit-before-disconnect.ts).
  const primary = spawnScript('test/fixtures/cluster-exit-before-disconnect.ts', { HOLD_CHANNEL_MS: '20000' });
  const started = () => primary.output().match(/\{"worker":\d+,"holder":\d+\}/g) ?? [];
  try {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && started().length < 2) await sleep(50);
    assert.equal(started().length, 2, `two workers started:\n${primary.output()}`);
    primary.child.kill('SIGTERM');
    assert.equal(await primary.exited, 0, primary.output());
  } finally {
    if (primary.child.exitCode === null) primary.child.kill('SIGKILL');
    for (const line of started()) {
      try {
        process.kill((JSON.parse(line) as { holder: number }).holder, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});
