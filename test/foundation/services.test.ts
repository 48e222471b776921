import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { eventually } from '../support/gateway.ts';
import { freePort, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { sample } from '../support/prometheus-text.ts';

const dir = mkdtempSync(join(tmpdir(), 'idm-services-'));
const seen: IncomingHttpHeaders[] = [];
const upstream = createServer((req, res) => {
  seen.push(req.headers);
  res.setHeader('content-type', 'text/plain');
  res.end(`legacy says hi to ${req.url}`);
});
let idp: SpawnedService;
let adapter: SpawnedService;
let gateway: SpawnedService;

before(async () => {
  const upstreamPort = await freePort();
  await new Promise<void>((resolve) => upstream.listen(upstreamPort, '127.0.0.1', resolve));
  [idp, adapter] = await Promise.all([
    startServiceProcess('idp/main.ts', 'IDP_PORT', { DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}` }),
    startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', { LEGACY_DATABASE_URL: `sqlite:${join(dir, 'legacy.sqlite')}` }),
  ]);
  gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    LEGACY_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
    IDP_UPSTREAM_URL: idp.url,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
    // The request-id test reads the last request the upstream saw: no background probe in between.
    GATEWAY_DEPENDENCY_PROBE_MS: '0',
  });
});

after(async () => {
  const codes = await Promise.all([gateway?.stop(), idp?.stop(), adapter?.stop()]);
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(codes, [0, 0, 0], 'each service exits 0 on SIGTERM');
});

test('every service answers /healthz on its port, and /readyz and /metrics only on its ops port', async () => {
  for (const service of [idp, adapter, gateway]) {
    const health = await fetch(`${service.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    for (const path of ['/readyz', '/metrics', '/metrics?x=1']) {
      const hidden = await fetch(`${service.url}${path}`);
      assert.equal(hidden.status, 404, `${path} is not on the public port`);
      assert.doesNotMatch(await hidden.text(), /http_requests_total|checks/);
    }
    assert.equal((await fetch(`${service.opsUrl}/healthz`)).status, 200);

    const ready = await fetch(`${service.opsUrl}/readyz`);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'ready');
    assert.ok(Object.keys(body.checks).length > 0, 'readiness checks something');

    const metrics = await fetch(`${service.opsUrl}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /^process_cpu_user_seconds_total\{service="/m, 'default process metrics');
    assert.match(text, /^http_requests_total\{route="\/readyz",method="GET",status="200",service="/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{/m);
  }
});

test('the gateway passes a request id on to the upstream and echoes it', async () => {
  const res = await fetch(`${gateway.url}/account.php`, { headers: { 'x-request-id': 'trace-me-123' } });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'legacy says hi to /account.php');
  assert.equal(res.headers.get('x-request-id'), 'trace-me-123');
  assert.equal(seen.at(-1)?.['x-request-id'], 'trace-me-123');
  assert.equal(seen.at(-1)?.['x-forwarded-for'], '127.0.0.1');

  const generated = await fetch(`${gateway.url}/`, { headers: { 'x-request-id': 'bad id with spaces' } });
  await generated.text();
  const id = generated.headers.get('x-request-id') ?? '';
  assert.match(id, /^[0-9a-f-]{36}$/, 'a malformed incoming id is replaced');
  assert.equal(seen.at(-1)?.['x-request-id'], id);
});

test('the internal API of the legacy-adapter wants its bearer secret', async () => {
  assert.equal((await fetch(`${adapter.url}/internal/v1/ping`)).status, 401);
  assert.equal((await fetch(`${adapter.url}/internal/v1/ping`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const ok = await fetch(`${adapter.url}/internal/v1/ping`, { headers: { authorization: 'Bearer dev-only-legacy-adapter-secret-change-me' } });
  assert.equal(ok.status, 200);
});

test('the gateway stays ready while an upstream is down (one outage must not empty the Service); the dependency gauge says which', async () => {
  const port = await freePort();
  const lonely = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    LEGACY_UPSTREAM_URL: `http://127.0.0.1:${port}`,
    IDP_UPSTREAM_URL: idp.url,
    LEGACY_ADAPTER_URL: adapter.url,
    DATABASE_URL: `sqlite:${join(dir, 'gateway2.sqlite')}`,
    GATEWAY_DEPENDENCY_PROBE_MS: '200',
  });
  try {
    const ready = await fetch(`${lonely.opsUrl}/readyz`);
    const body = (await ready.json()) as { checks: Record<string, string> };
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.deepEqual(body.checks, { flags: 'ok' }, 'readiness is about this process only');
    const gauge = async (dependency: string) => sample(await (await fetch(`${lonely.opsUrl}/metrics`)).text(), 'gateway_dependency_up', { dependency });
    assert.ok(
      await eventually(async () => (await gauge('idp')) === 1 && (await gauge('legacy-adapter')) === 1 && (await gauge('database')) === 1, 10_000),
      'the live dependencies are up',
    );
    assert.equal(await gauge('legacy'), 0, 'the dead monolith is down on the gauge');
    const proxied = await fetch(`${lonely.url}/anything`);
    assert.equal(proxied.status, 502);
    const error = (await proxied.json()) as { error: string; request_id: string };
    assert.equal(error.error, 'bad_gateway');
    assert.equal(error.request_id, proxied.headers.get('x-request-id'));
  } finally {
    await lonely.stop();
  }
});
