import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ConfigError } from '../../lib/config.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { loadIdpConfig } from '../../idp/config.ts';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';
import { kustomize } from '../support/kustomize.ts';
import { repoRoot, spawnScript } from '../../scripts/support/processes.ts';

test('defaults describe the embedded mode', () => {
  const config = loadIdpConfig({});
  assert.equal(config.IDP_PORT, 3001);
  assert.equal(config.DATABASE_URL, 'sqlite:./data/idp.sqlite');
  assert.equal(config.REDIS_URL, undefined);
  assert.equal(config.DB_MIGRATE_ON_START, true);
});

test('every bad variable is named with what is wrong', () => {
  assert.throws(
    () => loadGatewayConfig({ GATEWAY_PORT: 'eighty', LEGACY_UPSTREAM_URL: 'ftp://x', LOG_LEVEL: 'loud' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      assert.match(text, /GATEWAY_PORT: .*"eighty"/);
      assert.match(text, /LEGACY_UPSTREAM_URL: /);
      assert.match(text, /LOG_LEVEL: .*"loud"/);
      assert.equal(error.problems.length, 3);
      return true;
    },
  );
});

test('bad database and redis URLs are refused', () => {
  assert.throws(() => loadIdpConfig({ DATABASE_URL: 'postgres://x' }), /DATABASE_URL: must start with sqlite:/);
  assert.throws(() => loadIdpConfig({ REDIS_URL: 'localhost:6379' }), /REDIS_URL: must start with redis:\/\//);
});

test('a URL refused at start is shown without its password', () => {
  for (const [name, value] of [
    ['DATABASE_URL', 'postgres://app:s3cr3t-pw@db:5432/idp'],
    ['REDIS_URL', 'http://:s3cr3t-pw@cache:6379'],
    ['SMTP_URL', 'http://mailer:s3cr3t-pw@smtp.example.test:587'],
  ] as const) {
    assert.throws(
      () => loadIdpConfig({ [name]: value }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, new RegExp(`${name}: must start with`));
        assert.match(error.message, /:\*\*\*@/, 'the password is replaced');
        assert.doesNotMatch(error.message, /s3cr3t-pw/);
        return true;
      },
    );
  }
});

test('production refuses development secrets and short ones, without printing them', () => {
  assert.throws(() => loadLegacyAdapterConfig({ NODE_ENV: 'production' }), /LEGACY_ADAPTER_SECRET: the development default cannot be used in production/);
  assert.throws(
    () => loadGatewayConfig({ NODE_ENV: 'production', GATEWAY_ADMIN_TOKEN: 'short-secret' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /GATEWAY_ADMIN_TOKEN: must be at least 32 characters/);
      assert.doesNotMatch(error.message, /short-secret/);
      return true;
    },
  );
  const strong = 'x'.repeat(40);
  assert.equal(
    loadLegacyAdapterConfig({ NODE_ENV: 'production', LEGACY_ADAPTER_SECRET: strong, LEGACY_SESSION_BRIDGE_SECRET: strong }).LEGACY_ADAPTER_SECRET,
    strong,
  );
});

test('a service started with a malformed variable exits 78 and says which one', async () => {
  const proc = spawnScript('idp/main.ts', { IDP_PORT: '70000', DATABASE_URL: 'sqlite::memory:' });
  assert.equal(await proc.exited, 78);
  assert.match(proc.output(), /IDP_PORT: .*"70000"/);
});

test('a service in production with default secrets refuses to start', async () => {
  const proc = spawnScript('legacy-adapter/main.ts', { NODE_ENV: 'production', LEGACY_DATABASE_URL: 'sqlite::memory:' });
  assert.equal(await proc.exited, 78);
  assert.match(proc.output(), /LEGACY_ADAPTER_SECRET: the development default/);
});

test('TRUST_PROXY: every service refuses a value it cannot read, naming the variable and the part', () => {
  const refused = ['SET-ME-load-balancer-address-or-cidr', '10.0.0.0/33', '::1/129', '1.2.3', 'uniquelocal,nonsense', '2', '10.0.0.1/8/2', '10.0.0.0/', ','];
  for (const load of [loadGatewayConfig, loadIdpConfig, loadLegacyAdapterConfig]) {
    for (const value of refused) {
      assert.throws(
        () => load({ TRUST_PROXY: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, value);
          assert.match(error.message, /TRUST_PROXY: not an address, a CIDR or one of loopback, linklocal, uniquelocal: /, value);
          return true;
        },
      );
    }
    for (const value of ['true', 'false', 'loopback', '10.1.2.3', '10.1.0.0/16, fd00::/8', ' Loopback , 192.168.1.10 ']) {
      assert.equal(load({ TRUST_PROXY: value }).TRUST_PROXY, value);
    }
  }
});

test('the shipped deploy files trust no whole private range: an operator must name the load balancer', () => {
  const manifests = kustomize(join(repoRoot, 'deploy/k8s/overlays/production')) as Array<{
    kind?: string;
    spec?: { template?: { spec?: { containers?: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> } } };
  }>;
  const values = manifests
    .flatMap((m) => m.spec?.template?.spec?.containers ?? [])
    .flatMap((c) => (c.env ?? []).filter((e) => e.name === 'TRUST_PROXY').map((e) => [c.name, e.value ?? ''] as const));
  assert.deepEqual(values.map(([name]) => name).sort(), ['gateway', 'idp']);
  for (const [name, value] of values) {
    // A placeholder, which stops the service at start until it is replaced.
    assert.match(value, /^SET-ME-/, name);
    assert.throws(() => loadGatewayConfig({ TRUST_PROXY: value }), /TRUST_PROXY: not an address/, name);
  }
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown>; networks?: { default?: { ipv4_address?: string } } }>;
  };
  // The gateway's: required from the operator's environment (compose refuses to start without it).
  assert.match(String(compose.services.gateway?.environment?.TRUST_PROXY), /^\$\{TRUST_PROXY:\?.+\}$/);
  // The idp's: exactly the gateway's fixed address on the compose network, no range.
  const gatewayAddress = compose.services.gateway?.networks?.default?.ipv4_address;
  assert.ok(gatewayAddress);
  for (const name of ['idp', 'setup']) assert.equal(compose.services[name]?.environment?.TRUST_PROXY, gatewayAddress, name);
});

test('the idp stops at start (exit 78, before touching its database) on a TRUST_PROXY it cannot read', async () => {
  const proc = spawnScript('idp/main.ts', { IDP_PORT: '0', DATABASE_URL: 'sqlite::memory:', TRUST_PROXY: 'SET-ME-gateway-pod-cidr' });
  assert.equal(await proc.exited, 78);
  assert.match(proc.output(), /TRUST_PROXY: not an address, a CIDR or one of loopback, linklocal, uniquelocal: "set-me-gateway-pod-cidr"/);
  assert.doesNotMatch(proc.output(), /migrated/);
});
