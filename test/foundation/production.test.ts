// Docker has no engine on the build machines, so this runs what docker-compose.yml and the
// Kubernetes manifests run, outside a container: the compiled services in production mode on
// MariaDB + Redis, with the one-off steps an operator does first (migrate, create a signing key).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { composeClients } from '../../scripts/compose-env.ts';
import { createMariaDbDatabase, mariadbProblem, MARIADB_ADMIN_URL, REDIS_TEST_URL, redisProblem, skipLoudly } from '../../scripts/support/databases.ts';
import { idpProductionSecrets, randomSecret } from '../../scripts/support/production-secrets.ts';
import { freePort, repoRoot, spawnScript, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';

const secret = randomSecret;

/** A service's command in docker-compose.yml, as compose would run it. */
function composeCommand(service: string): string[] {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { command: string[] }> };
  return compose.services[service]!.command;
}

test('production mode from dist/ on MariaDB + Redis, as compose and Kubernetes run it', async (t) => {
  if (!existsSync(join(repoRoot, 'dist/idp/main.js'))) {
    console.warn('\n*** SKIPPED: dist/ is not built; run `npm run build` first (CI does) ***\n');
    return t.skip('dist/ not built');
  }
  const problem = (await mariadbProblem()) ?? (await redisProblem());
  if (problem) return skipLoudly(t, `MariaDB (${MARIADB_ADMIN_URL}) or Redis (${REDIS_TEST_URL})`, problem);

  const db = await createMariaDbDatabase('idm_prod');
  const dir = mkdtempSync(join(tmpdir(), 'idm-prod-'));
  const legacy = createServer((_req, res) => res.end('legacy'));
  const legacyPort = await freePort();
  await new Promise<void>((resolve) => legacy.listen(legacyPort, '127.0.0.1', resolve));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: db.url,
    REDIS_URL: REDIS_TEST_URL,
    REDIS_KEY_PREFIX: `test:${randomBytes(6).toString('hex')}:`,
    IDP_ISSUER: 'https://login.example.test',
    ...idpProductionSecrets(),
    GATEWAY_ADMIN_TOKEN: secret(),
    GATEWAY_OIDC_CLIENT_SECRET: secret(),
    GATEWAY_AUTH_COOKIE_SECRET: secret(),
    LEGACY_SESSION_BRIDGE_SECRET: secret(),
    LEGACY_DATABASE_URL: `sqlite:${join(dir, 'legacy.sqlite')}`,
    LEGACY_UPSTREAM_URL: `http://127.0.0.1:${legacyPort}`,
    // The clients file compose:env writes: the gateway's sign-in secret comes from the environment.
    IDP_CLIENTS_FILE: join(dir, 'clients.yaml'),
  };
  writeFileSync(env.IDP_CLIENTS_FILE!, composeClients(readFileSync(join(repoRoot, 'idp/clients.yaml'), 'utf8'), 'https://login.example.test'));
  const services: SpawnedService[] = [];
  try {
    // Without a signing key of its own, production refuses to start.
    const keyless = spawnScript('dist/idp/main.js', { ...env, IDP_PORT: String(await freePort()) });
    assert.notEqual(await keyless.exited, 0, 'the idp must refuse to start without a real signing key');

    // The one-off steps, exactly as compose's `setup` service runs them before every idp start:
    // migrations, then a signing key of its own; run again, they change nothing.
    const [command, ...args] = composeCommand('setup');
    const setup = () => spawnSync(command!, args, { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
    const first = setup();
    assert.equal(first.status, 0, `setup: ${first.stdout}${first.stderr}`);
    assert.match(first.stdout, /promoted \S+ \(active\)/);
    const again = setup();
    assert.equal(again.status, 0, `setup again: ${again.stdout}${again.stderr}`);
    assert.match(again.stdout, /already up to date[\s\S]*is active: nothing to do/);
    const keys = spawnSync(process.execPath, ['dist/idp/cli/keys.js', 'list'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
    });
    assert.equal(keys.stdout.trim().split('\n').length, 1, `one key: ${keys.stdout}`);

    const adapter = await startServiceProcess(composeCommand('legacy-adapter')[1]!, 'LEGACY_ADAPTER_PORT', env);
    services.push(adapter);
    const idp = await startServiceProcess(composeCommand('idp')[1]!, 'IDP_PORT', { ...env, LEGACY_ADAPTER_URL: adapter.url });
    services.push(idp);
    // As compose runs it: one worker process per CPU.
    const gateway = await startServiceProcess(composeCommand('gateway')[1]!, 'GATEWAY_PORT', { ...env, IDP_UPSTREAM_URL: idp.url, GATEWAY_WORKERS: 'auto' });
    services.push(gateway);

    for (const service of [idp, gateway]) {
      const ready = await fetch(`${service.opsUrl}/readyz`);
      assert.equal(ready.status, 200, `${service.url}: ${await ready.text()}`);
    }
    const discovery = await fetch(`${gateway.url}/.well-known/openid-configuration`, { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(discovery.status, 200);
    const metadata = (await discovery.json()) as { issuer: string; code_challenge_methods_supported: string[] };
    assert.equal(metadata.issuer, env.IDP_ISSUER);
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    assert.equal(await (await fetch(`${gateway.url}/index.php`)).text(), 'legacy');
  } finally {
    const codes = await Promise.all(services.reverse().map((s) => s.stop()));
    legacy.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(
      codes,
      services.map(() => 0),
      services.map((s) => s.output()).join('\n'),
    );
  }
});
