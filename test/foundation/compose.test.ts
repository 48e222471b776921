// docker-compose.yml, deploy/Dockerfile and `npm run compose:env`, checked without a Docker engine:
// Debian's docker-compose renders and validates the file with the .env compose:env writes; what the
// containers would run (their environment, the healthcheck, MariaDB's first-start script) runs here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { COMPOSE_SECRETS } from '../../scripts/compose-env.ts';
import { mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { phpAvailable } from '../../scripts/support/legacy-php.ts';
import { freePort, repoRoot, startServiceProcess } from '../../scripts/support/processes.ts';
import { configProblem, serviceOfCommand } from '../support/service-config.ts';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: unknown[];
  networks?: Record<string, { ipv4_address?: string } | null>;
}

function composeEnv(dir: string, ...extra: string[]) {
  return spawnSync(process.execPath, ['scripts/compose-env.ts', '--env-out', join(dir, '.env'), '--clients-out', join(dir, 'clients.yaml'), ...extra], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
}

function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

test('compose:env writes fresh secrets once and never overwrites them without --force', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-compose-env-'));
  try {
    const first = composeEnv(dir, '--public-url', 'https://login.example.test');
    assert.equal(first.status, 0, first.stderr);
    const env = readEnvFile(join(dir, '.env'));
    assert.equal(statSync(join(dir, '.env')).mode & 0o077, 0, '.env must be readable by its owner only');
    for (const name of COMPOSE_SECRETS) assert.ok((env[name] ?? '').length >= 32, `${name} is missing or short`);
    assert.equal(new Set(COMPOSE_SECRETS.map((n) => env[n])).size, COMPOSE_SECRETS.length, 'every secret is its own random value');
    for (const name of COMPOSE_SECRETS) assert.ok(!first.stdout.includes(env[name]!) && !first.stderr.includes(env[name]!), `${name} was printed`);
    assert.equal(env.PUBLIC_URL, 'https://login.example.test');
    assert.equal(env.GATEWAY_ALLOWED_HOSTS, 'login.example.test', 'the gateway serves the public host, no other');

    const clients = parse(readFileSync(join(dir, 'clients.yaml'), 'utf8')) as { clients: Record<string, unknown>[] };
    const gateway = clients.clients.find((c) => c.client_id === 'gateway')!;
    assert.deepEqual(gateway.redirect_uris, ['https://login.example.test/auth/callback']);
    // Every URI the idp calls or sends browsers to is the site's, back-channel logout's too.
    assert.equal(gateway.backchannel_logout_uri, 'https://login.example.test/auth/backchannel-logout');
    assert.ok(!JSON.stringify(clients).includes('localhost:3000'), 'no URI left at the development origin');
    assert.equal(gateway.client_secret_env, 'GATEWAY_OIDC_CLIENT_SECRET');
    assert.equal(gateway.client_secret_hash, undefined);
    assert.ok(!clients.clients.some((c) => c.client_id === 'gateway-ops'), 'the development-only hash is left out');

    const before = readFileSync(join(dir, '.env'), 'utf8');
    const again = composeEnv(dir);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already exist.*--force/);
    assert.equal(readFileSync(join(dir, '.env'), 'utf8'), before);
    const forced = composeEnv(dir, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.notEqual(readFileSync(join(dir, '.env'), 'utf8'), before);

    assert.equal(composeEnv(mkdtempSync(join(dir, 'x')), '--public-url', 'http://plain.example.test').status, 64, 'web clients need https');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function composeConfig(t: TestContext): { services: Record<string, ComposeService>; env: Record<string, string> } | undefined {
  const version = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  if (version.status !== 0) {
    console.warn('\n*** SKIPPED: docker-compose is not installed (apt-get install docker-compose; .ci/run does); the compose file was NOT validated ***\n');
    t.skip('docker-compose not installed');
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'idm-compose-'));
  try {
    assert.equal(composeEnv(dir).status, 0);
    const rendered = spawnSync('docker-compose', ['--env-file', join(dir, '.env'), '-f', 'docker-compose.yml', 'config'], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(rendered.status, 0, `docker-compose config: ${rendered.stderr}`);
    return { services: (parse(rendered.stdout) as { services: Record<string, ComposeService> }).services, env: readEnvFile(join(dir, '.env')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('docker-compose config: valid, started in order of health, every service configured to start in production', (t) => {
  const compose = composeConfig(t);
  if (!compose) return;
  const { services } = compose;

  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      const target = services[dependency];
      assert.ok(target, `${name} depends on unknown ${dependency}`);
      if (condition === 'service_completed_successfully') assert.equal(target.healthcheck?.test[0], 'NONE', `${dependency} is a one-off`);
      else {
        assert.equal(condition, 'service_healthy', `${name} waits for ${dependency} to be healthy, not merely started`);
        assert.ok(target.healthcheck && target.healthcheck.test[0] !== 'NONE', `${dependency} needs a healthcheck`);
      }
    }
  }

  const nodeServices = Object.entries(services).filter(([, s]) => s.command?.some((a) => a.endsWith('/main.js')));
  assert.deepEqual(nodeServices.map(([n]) => n).sort(), ['gateway', 'idp', 'legacy-adapter']);
  for (const [name, service] of nodeServices) {
    const which = serviceOfCommand(service.command!)!;
    assert.equal(configProblem(which, service.environment ?? {}), undefined, `${name} would not start`);
    assert.equal(service.environment?.NODE_ENV, 'production');
    assert.deepEqual(service.healthcheck?.test, ['CMD', 'node', 'dist/lib/healthcheck.js']);
  }
  assert.equal(services.gateway!.environment!.GATEWAY_ALLOWED_HOSTS, new URL(services.gateway!.environment!.GATEWAY_PUBLIC_URL!).hostname);
  // The idp's one-off steps: migrations, then a key of its own, before the idp starts.
  assert.equal(services.idp?.depends_on?.setup?.condition, 'service_completed_successfully');
  assert.match(services.setup?.command?.join(' ') ?? '', /migrate-cli\.js && node dist\/idp\/cli\/keys\.js ensure/);
  assert.equal(configProblem('idp', services.setup?.environment ?? {}), undefined);

  // The monolith on MariaDB, its own database and user, sessions in the database.
  const php = services['legacy-php']!.environment!;
  const db = services.mariadb!.environment!;
  assert.match(php.LEGACY_DB_DSN!, /^mysql:host=mariadb;.*dbname=legacy$/);
  assert.equal(php.LEGACY_SESSION_STORE, 'db');
  // The API believes X-Remote-User from the gateway alone: its fixed address on this network.
  assert.equal(php.LEGACY_TRUSTED_USER_HEADER, 'X-Remote-User');
  assert.equal(php.LEGACY_TRUSTED_PROXIES, services.gateway!.networks?.default?.ipv4_address);
  assert.notEqual(php.LEGACY_DB_USER, db.MARIADB_USER);
  assert.notEqual(php.LEGACY_DB_PASSWORD, db.MARIADB_PASSWORD);
  assert.equal(db.LEGACY_DB_NAME, 'legacy');
  assert.equal(services['legacy-adapter']!.environment!.LEGACY_DATABASE_URL, `mysql://${php.LEGACY_DB_USER}:${php.LEGACY_DB_PASSWORD}@mariadb:3306/legacy`);

  // Prometheus: the alert rules, and a target on every service's ops port (which is never published).
  const promVolumes = services.prometheus!.volumes!;
  const promConfigFile = promVolumes.find((v) => v.endsWith(':/etc/prometheus/prometheus.yaml:ro'))!.split(':')[0]!;
  const prom = parse(readFileSync(promConfigFile, 'utf8')) as { rule_files: string[]; scrape_configs: { static_configs: { targets: string[] }[] }[] };
  const rules = promVolumes.find((v) => v.includes('/deploy/observability/alerts.yaml:'))!.split(':')[1];
  assert.deepEqual(prom.rule_files, [rules]);
  const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  const opsPorts = { gateway: 3100, idp: 3101, 'legacy-adapter': 3102 };
  for (const [name, port] of Object.entries(opsPorts)) {
    assert.ok(targets.includes(`${name}:${port}`), `Prometheus scrapes ${name}`);
    assert.equal(services[name]!.environment!.OPS_HOST, '0.0.0.0');
    assert.ok(!JSON.stringify(services[name]!.ports ?? []).includes(String(port)), `${name}'s ops port must not be published`);
  }

  // Grafana: the data source and the dashboard, provisioned from the repository's files.
  const grafana = services.grafana!.volumes!.join('\n');
  assert.match(grafana, /deploy\/observability\/grafana-dashboard\.json:\S+:ro/);
  assert.match(grafana, /:\/etc\/grafana\/provisioning\/datasources\//);
  assert.match(grafana, /:\/etc\/grafana\/provisioning\/dashboards\//);
  const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy/observability/grafana-dashboard.json'), 'utf8')) as {
    templating: { list: { name: string; type: string }[] };
  };
  assert.ok(
    dashboard.templating.list.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource'),
    'a provisioned dashboard resolves ${DS_PROMETHEUS} only through a variable',
  );
});

test('deploy/Dockerfile: parser directive first, multi-stage without compilers in the image, tini, non-root, a real HEALTHCHECK; .dockerignore', () => {
  const lines = readFileSync(join(repoRoot, 'deploy/Dockerfile'), 'utf8').split('\n');
  assert.match(lines[0]!, /^# syntax=docker\/dockerfile:1/);
  const stages = lines
    .join('\n')
    .split(/^FROM /m)
    .slice(1);
  assert.ok(stages.length >= 2, 'multi-stage');
  const final = stages.at(-1)!;
  assert.doesNotMatch(final, /\b(g\+\+|gcc|make|python3|build-essential)\b/, 'no compiler in the final image');
  assert.match(final, /^COPY --from=build /m);
  assert.match(final, /apt-get install[^\n]*\btini\b/);
  assert.match(final, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
  assert.match(final, /^USER node$/m);
  const healthcheck = /^HEALTHCHECK .*CMD \["node", "dist\/lib\/healthcheck\.js"\]$/m.exec(final);
  assert.ok(healthcheck, 'HEALTHCHECK runs dist/lib/healthcheck.js');
  assert.ok(existsSync(join(repoRoot, 'lib/healthcheck.ts')), 'its source exists (built into dist/lib)');
  assert.match(stages[0]!, /RUN npm run build/);

  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  assert.equal(
    ignore.find((l) => l && !l.startsWith('#')),
    '*',
    'everything is excluded unless listed',
  );
  for (const never of ['node_modules', 'dist', 'data', '.git'])
    assert.ok(!ignore.some((l) => l.startsWith('!') && l.slice(1).replace(/\/$/, '') === never), `${never} must not be in the context`);
  assert.ok(ignore.includes('.env'), '.env never reaches the context');
  // Every folder the build compiles reaches the build stage (cli/ once did not: no idm in the image).
  const compiled = (JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
  for (const folder of compiled) {
    assert.match(stages[0]!, new RegExp(`^COPY ${folder} ${folder}$`, 'm'), `the build stage copies ${folder}/`);
    assert.ok(ignore.includes(`!${folder}/`), `.dockerignore lets ${folder}/ into the context`);
  }
});

test('the HEALTHCHECK command: ready only while the service in the container says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-healthcheck-'));
  const closed = { GATEWAY_OPS_PORT: String(await freePort()), IDP_OPS_PORT: String(await freePort()) };
  const adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', { LEGACY_DATABASE_URL: `sqlite:${join(dir, 'legacy.sqlite')}` });
  const check = () =>
    spawnSync(process.execPath, ['lib/healthcheck.ts'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', ...closed, LEGACY_ADAPTER_OPS_PORT: new URL(adapter.opsUrl).port },
      encoding: 'utf8',
    });
  try {
    const up = check();
    assert.equal(up.status, 0, up.stderr);
  } finally {
    assert.equal(await adapter.stop(), 0, adapter.output());
  }
  const down = check();
  assert.equal(down.status, 1);
  assert.match(down.stderr, /not ready: no ops port answers/);
  rmSync(dir, { recursive: true, force: true });
});

test("MariaDB's first-start script gives the monolith its own database and user, and the monolith seeds itself with them", async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB (${MARIADB_ADMIN_URL})`, problem);
  if (!phpAvailable()) return skipLoudly(t, 'php (php-cli php-mysql)', 'not installed');
  const admin = new URL(MARIADB_ADMIN_URL);
  const suffix = randomBytes(4).toString('hex');
  const legacy = { LEGACY_DB_NAME: `idm_legacy_${suffix}`, LEGACY_DB_USER: `legacy_${suffix}`, LEGACY_DB_PASSWORD: randomBytes(32).toString('base64url') };
  const mysql = `mysql --protocol=tcp -h${admin.hostname} -P${admin.port || 3306} -u${decodeURIComponent(admin.username)}`;
  const adminSql = (sql: string) =>
    spawnSync('sh', ['-c', `${mysql} -e "$SQL"`], {
      env: { PATH: process.env.PATH ?? '', MYSQL_PWD: decodeURIComponent(admin.password), SQL: sql },
      encoding: 'utf8',
    });
  try {
    // The image's entrypoint sources the script with docker_process_sql talking to the new server as root.
    const init = spawnSync('bash', ['-c', `docker_process_sql() { ${mysql}; }; . deploy/compose/mariadb-init/10-legacy.sh`], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', MYSQL_PWD: decodeURIComponent(admin.password), ...legacy },
      encoding: 'utf8',
    });
    assert.equal(init.status, 0, init.stderr);
    const seeded = spawnSync('php', ['legacy-php/seed.php'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        LEGACY_DB_DSN: `mysql:host=${admin.hostname};port=${admin.port || 3306};dbname=${legacy.LEGACY_DB_NAME}`,
        LEGACY_DB_USER: legacy.LEGACY_DB_USER,
        LEGACY_DB_PASSWORD: legacy.LEGACY_DB_PASSWORD,
      },
      encoding: 'utf8',
    });
    assert.equal(seeded.status, 0, seeded.stderr);
    assert.match(seeded.stdout, /users: 15 created/);
    const grants = adminSql(`SHOW GRANTS FOR '${legacy.LEGACY_DB_USER}'@'%'`);
    assert.equal(grants.status, 0, grants.stderr);
    assert.ok(grants.stdout.includes(`GRANT ALL PRIVILEGES ON \`${legacy.LEGACY_DB_NAME}\`.*`), grants.stdout);
    assert.doesNotMatch(grants.stdout, /GRANT (ALL PRIVILEGES|SELECT)[^\n]* ON (\*\.\*|`idm`\.)/, 'the legacy user reaches only its own database');
  } finally {
    adminSql(`DROP DATABASE IF EXISTS \`${legacy.LEGACY_DB_NAME}\`; DROP USER IF EXISTS '${legacy.LEGACY_DB_USER}'@'%'`);
  }
});
