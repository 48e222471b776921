// The dashboard and the alert rules name metrics by string; a renamed metric would leave a
// blank panel or an alert that can never fire. Start the three services for real, scrape them,
// and check every name used in deploy/observability is exposed by one of them.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { freePort, repoRoot, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { exposedFamilies, isExposed, metricNames } from './promql.ts';
import { internalErrorBody } from '../../contracts/internal-error.ts';

// Series Prometheus makes itself for every target, not exposed by any service.
const PROMETHEUS_OWN = new Set(['up']);

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: { severity?: unknown };
  annotations?: { summary?: unknown; description?: unknown };
}
interface Panel {
  type?: string;
  title?: string;
  datasource?: { uid?: string };
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion?: number;
  __inputs?: { name?: string; type?: string }[];
  panels?: Panel[];
  annotations?: { list?: { expr?: string }[] };
}

const observability = join(repoRoot, 'deploy/observability');
const dashboard = JSON.parse(readFileSync(join(observability, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
const rules = (parse(readFileSync(join(observability, 'alerts.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

function panelsOf(list: Panel[] = []): Panel[] {
  return list.flatMap((p) => [p, ...panelsOf(p.panels)]);
}

/** Every PromQL expression in the dashboard and the rules, with where it came from. */
function expressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const panel of panelsOf(dashboard.panels)) {
    for (const target of panel.targets ?? []) if (target.expr) out.push({ where: `panel "${panel.title}"`, expr: target.expr });
  }
  for (const a of dashboard.annotations?.list ?? []) if (a.expr) out.push({ where: 'dashboard annotation', expr: a.expr });
  for (const rule of rules) if (typeof rule.expr === 'string') out.push({ where: `alert ${String(rule.alert)}`, expr: rule.expr });
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'idm-observability-'));
const legacy = createServer((_req, res) => res.end('legacy'));
let adapter: SpawnedService | undefined;
let idp: SpawnedService | undefined;
let gateway: SpawnedService | undefined;

before(async () => {
  const legacyPort = await freePort();
  await new Promise<void>((resolve) => legacy.listen(legacyPort, '127.0.0.1', resolve));
  adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', { LEGACY_DATABASE_URL: `sqlite:${join(dir, 'legacy.sqlite')}` });
  idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', { DATABASE_URL: `sqlite:${join(dir, 'idp.sqlite')}`, LEGACY_ADAPTER_URL: adapter.url });
  gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    LEGACY_UPSTREAM_URL: `http://127.0.0.1:${legacyPort}`,
    IDP_UPSTREAM_URL: idp.url,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
  });
});

after(async () => {
  await Promise.all([gateway?.stop(), idp?.stop(), adapter?.stop()]);
  legacy.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the PromQL name extraction finds metric names and nothing else', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (side, le) (rate(a_seconds_bucket{x="y:z", q=~"5.."}[$__rate_interval]))) / on (side) group_left b_total > bool 0.5',
    ),
    ['a_seconds_bucket', 'b_total'],
  );
  assert.deepEqual(metricNames('up{job=~".*(idp).*"} == 0 or max without (instance) (c) unless d offset 5m'), ['up', 'c', 'd']);
});

test('the histogram/summary suffix rule', () => {
  const families = new Map([
    ['h_seconds', 'histogram'],
    ['c_total', 'counter'],
    ['s', 'summary'],
  ]);
  assert.equal(isExposed('h_seconds_bucket', families), true);
  assert.equal(isExposed('h_seconds_count', families), true);
  assert.equal(isExposed('h_seconds', families), false, 'a histogram has no bare series');
  assert.equal(isExposed('c_total', families), true);
  assert.equal(isExposed('c_total_sum', families), false);
  assert.equal(isExposed('s_sum', families), true);
  assert.equal(isExposed('s_bucket', families), false);
  assert.equal(isExposed('renamed_total', families), false);
});

test('every metric the dashboard and the alerts use is exposed by a service', async () => {
  assert.ok(gateway && idp && adapter);
  // A little traffic, so the scrape is the one of a service that has done some work.
  const proxied = await fetch(`${gateway.url}/account.php`);
  assert.equal(proxied.status, 200);
  await proxied.text();
  const check = await fetch(`${idp.url}/internal/v1/login-check`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-only-idp-internal-secret-change-me', 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'nobody@example.test', password: 'not-the-password' }),
  });
  // The adapter's legacy database has no users table: an outage, which login-check reports as one.
  assert.equal(check.status, 503);
  assert.equal(internalErrorBody.parse(await check.json()).error, 'temporarily_unavailable');

  const families = new Map<string, string>();
  for (const service of [gateway, idp, adapter]) {
    const res = await fetch(`${service.opsUrl}/metrics`);
    assert.equal(res.status, 200);
    for (const [name, type] of exposedFamilies(await res.text())) families.set(name, type);
  }
  // The scrape really reached each service's own metrics (not only the shared HTTP ones).
  for (const own of ['gateway_proxy_requests_total', 'idp_logins_total', 'legacy_adapter_authentications_total']) assert.ok(families.has(own), own);

  const all = expressions();
  assert.ok(all.length >= 40, `found only ${all.length} expressions`);
  const used = new Set<string>();
  const missing: string[] = [];
  for (const { where, expr } of all) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where}: no metric name found in ${expr}`);
    for (const name of names) {
      used.add(name);
      if (!PROMETHEUS_OWN.has(name) && !isExposed(name, families)) missing.push(`${where}: ${name}`);
    }
  }
  assert.deepEqual(missing, [], 'metrics used but exposed by no service');
  assert.ok(used.size >= 20, `only ${used.size} distinct metric names used`);
});

test('the dashboard is an importable Grafana dashboard on a ${DS_PROMETHEUS} input', () => {
  assert.equal(dashboard.schemaVersion, 39);
  assert.ok(dashboard.__inputs?.some((i) => i.name === 'DS_PROMETHEUS' && i.type === 'datasource'));
  const panels = panelsOf(dashboard.panels);
  assert.deepEqual(
    panels.filter((p) => p.type === 'row').map((p) => p.title),
    ['Traffic', 'Flags', 'Login & migration', 'Password reset & mail', 'Tokens', 'Services'],
  );
  for (const panel of panels.filter((p) => p.type !== 'row')) {
    assert.equal(panel.datasource?.uid, '${DS_PROMETHEUS}', `panel "${panel.title}" datasource`);
    assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has a query`);
  }
});

test('every alert rule has a name, expression, for-duration, severity, summary and description', () => {
  assert.ok(rules.length >= 10, `only ${rules.length} rules`);
  const names = new Set<string>();
  for (const rule of rules) {
    const name = String(rule.alert);
    assert.ok(typeof rule.alert === 'string' && /^[A-Z]\w+$/.test(rule.alert), `alert name: ${name}`);
    assert.ok(!names.has(name), `duplicate alert ${name}`);
    names.add(name);
    assert.ok(typeof rule.expr === 'string' && rule.expr.trim(), `${name}: expr`);
    assert.ok(typeof rule.for === 'string' && /^\d+[smh]$/.test(rule.for), `${name}: for`);
    assert.ok(rule.labels?.severity === 'page' || rule.labels?.severity === 'warn', `${name}: labels.severity`);
    assert.ok(typeof rule.annotations?.summary === 'string' && rule.annotations.summary.trim(), `${name}: annotations.summary`);
    assert.ok(typeof rule.annotations?.description === 'string' && rule.annotations.description.length > 80, `${name}: annotations.description`);
  }
});
