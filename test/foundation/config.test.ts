import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../lib/config.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { loadIdpConfig } from '../../idp/config.ts';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';
import { spawnScript } from '../support/processes.ts';

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
  assert.equal(loadLegacyAdapterConfig({ NODE_ENV: 'production', LEGACY_ADAPTER_SECRET: strong, LEGACY_SESSION_BRIDGE_SECRET: strong }).LEGACY_ADAPTER_SECRET, strong);
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
